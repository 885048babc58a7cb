/** The palette: drag a step type onto the canvas, or press it to add one. */
import type { DragEvent } from "react";
import { STEP_TYPES } from "../graph";
import { KIND_ICONS, KIND_LABELS } from "./StepNode";

export const DRAG_TYPE = "application/x-leadflow-step";

export function Palette({ onAdd }: { onAdd: (type: string) => void }) {
  const onDragStart = (event: DragEvent<HTMLButtonElement>, type: string) => {
    event.dataTransfer.setData(DRAG_TYPE, type);
    event.dataTransfer.setData("text/plain", type);
    event.dataTransfer.effectAllowed = "move";
  };
  return (
    <aside className="palette" aria-label="Step palette">
      <h2>Steps</h2>
      <p className="muted small">Drag onto the canvas, or press to add.</p>
      {STEP_TYPES.map((type) => (
        <button key={type} type="button" draggable className={`palette-item kind-${type}`} data-testid={`palette-${type}`}
          aria-label={`Add ${KIND_LABELS[type]} step`} onDragStart={(e) => onDragStart(e, type)} onClick={() => onAdd(type)}>
          <span aria-hidden className="icon">{KIND_ICONS[type]}</span> {KIND_LABELS[type]}
        </button>
      ))}
    </aside>
  );
}
