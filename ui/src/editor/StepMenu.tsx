/**
 * The "+" on a step's outgoing handle: a menu of step types (icon, name, what it does) that adds
 * the chosen step after this outcome, connected. Keyboard: Enter or Space opens it on the first
 * item, arrows, Home and End move, Enter picks, Escape closes and gives the focus back. Beside
 * the "+" on wide screens; a sheet along the bottom of the screen on narrow ones.
 */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";
import { createPortal } from "react-dom";
import { STEP_TYPES } from "../graph";
import { KIND_ICONS, KIND_LABELS } from "./StepNode";

/** One line per step type: what it does for the lead. */
export const KIND_DESCRIPTIONS: Record<string, string> = {
  email: "Send one e-mail from a template",
  wait: "Pause for a fixed time, such as 2 days",
  wait_for: "Wait until the lead does something, at most for a while",
  branch: "Send leads different ways by temperature or conditions",
  split: "A/B test: divide leads between paths by weight",
  update: "Change the stage, score, tags or fields",
  handoff: "Pass the lead to sales with an SLA",
  notify: "Tell someone by e-mail, Slack or webhook",
  exit: "The lead leaves the flow here",
};

/** Below this width the menu is a sheet along the bottom of the screen. */
const NARROW = 600;

export function AddNextButton({ stepId, handle, label, onAdd }: {
  stepId: string;
  handle: string;
  /** The outcome in words ("hot", "next"). */
  label: string;
  onAdd: (stepId: string, handle: string, type: string) => void;
}) {
  const [open, setOpen] = useState(false);
  const trigger = useRef<HTMLButtonElement>(null);
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) trigger.current?.focus();
  };
  return (
    <>
      <button ref={trigger} type="button" className="add-next nodrag nopan" aria-haspopup="menu" aria-expanded={open}
        aria-label={`Add a step after ${stepId}: ${label}`} title="Add the next step here"
        data-testid={`add-after-${stepId}-${handle}`}
        // The "+" sits on the handle: pressing it must not start drawing a connection.
        onPointerDown={(e) => e.stopPropagation()} onMouseDown={(e) => e.stopPropagation()}
        onClick={(e) => {
          e.stopPropagation();
          setOpen((v) => !v);
        }}>+</button>
      {open && trigger.current && (
        <StepMenu anchor={trigger.current} title={`Add after ${stepId}${label === "next" ? "" : ` (${label})`}`}
          onPick={(type) => {
            close(false);
            onAdd(stepId, handle, type);
          }}
          onClose={close} />
      )}
    </>
  );
}

function StepMenu({ anchor, title, onPick, onClose }: {
  anchor: HTMLElement;
  title: string;
  onPick: (type: string) => void;
  onClose: (refocus: boolean) => void;
}) {
  const menu = useRef<HTMLDivElement>(null);
  const [place, setPlace] = useState<{ left: number; top: number } | null>(null);
  const narrow = window.innerWidth < NARROW;

  useLayoutEffect(() => {
    if (narrow || !menu.current) return;
    const at = anchor.getBoundingClientRect();
    const box = menu.current.getBoundingClientRect();
    const left = Math.min(Math.max(8, at.left + at.width / 2 - box.width / 2), window.innerWidth - box.width - 8);
    const below = at.bottom + 6;
    const top = below + box.height <= window.innerHeight - 8 ? below : Math.max(8, at.top - box.height - 6);
    setPlace({ left, top });
  }, [anchor, narrow]);

  const closeRef = useRef(onClose);
  closeRef.current = onClose;
  useEffect(() => {
    menu.current?.querySelector<HTMLElement>('[role="menuitem"]')?.focus();
    const outside = (event: PointerEvent) => {
      const target = event.target as Node;
      if (!menu.current?.contains(target) && !anchor.contains(target)) closeRef.current(false);
    };
    document.addEventListener("pointerdown", outside, true);
    return () => document.removeEventListener("pointerdown", outside, true);
  }, [anchor]);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const items = [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const at = items.indexOf(document.activeElement as HTMLElement);
    const go = (i: number) => items[(i + items.length) % items.length]?.focus();
    if (event.key === "ArrowDown") go(at + 1);
    else if (event.key === "ArrowUp") go(at - 1);
    else if (event.key === "Home") go(0);
    else if (event.key === "End") go(items.length - 1);
    else if (event.key === "Escape") onClose(true);
    else if (event.key === "Tab") onClose(false);
    else return;
    if (event.key !== "Tab") event.preventDefault();
    event.stopPropagation();
  };

  return createPortal(
    <div ref={menu} role="menu" aria-label={title} data-testid="step-menu" onKeyDown={onKeyDown}
      className={`step-menu${narrow ? " sheet" : ""}`}
      style={narrow ? undefined : { left: place?.left ?? -9999, top: place?.top ?? 0 }}>
      <div className="step-menu-title" aria-hidden>{title}</div>
      {STEP_TYPES.map((type) => (
        <button key={type} type="button" role="menuitem" className={`step-menu-item kind-${type}`}
          data-testid={`step-menu-${type}`} onClick={() => onPick(type)}>
          <span className="icon" aria-hidden>{KIND_ICONS[type]}</span>
          <span className="step-menu-text">
            <span className="step-menu-name">{KIND_LABELS[type]}</span>
            <span className="step-menu-what">{KIND_DESCRIPTIONS[type]}</span>
          </span>
        </button>
      ))}
    </div>,
    document.body,
  );
}
