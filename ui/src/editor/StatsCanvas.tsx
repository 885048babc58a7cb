/** A flow drawn read-only by the automatic layout, with counts on its steps (previews, simulations). */
import { Background, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { useEffect, useMemo, useRef, useState } from "react";
import { toGraph, type FlowDoc } from "../graph";
import { buildCanvas } from "./canvas";
import { layoutWithRoutes, savedDirection, type Positions } from "./layout";
import { edgeTypes } from "./RoutedEdge";
import { nodeTypes, type StepStats } from "./StepNode";

export function StatsCanvas({ flowId, doc, stats, className, testId, label }: {
  flowId: string;
  doc: FlowDoc;
  stats: Record<string, StepStats>;
  className: string;
  testId: string;
  label: string;
}) {
  const [positions, setPositions] = useState<Positions | null>(null);
  // The view is fitted when React Flow starts: it starts again for a new layout (another
  // document) and when the canvas changes width (a phone turned, a window narrowed), so the
  // steps and their counts stay in sight instead of where the old fit put them.
  const [layouts, setLayouts] = useState(0);
  const [width, setWidth] = useState(0);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let cancelled = false;
    const graph = toGraph(doc);
    layoutWithRoutes(graph.nodes, graph.edges, doc.start as string, savedDirection(flowId))
      .then((laid) => {
        if (cancelled) return;
        setPositions(laid.positions);
        setLayouts((n) => n + 1);
      });
    return () => {
      cancelled = true;
    };
  }, [doc, flowId]);
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const watch = new ResizeObserver(([entry]) => setWidth(Math.round(entry.contentRect.width / 20)));
    watch.observe(el);
    return () => watch.disconnect();
  }, []);
  const canvas = useMemo(
    () => (positions ? buildCanvas({ doc, positions, routes: {}, direction: savedDirection(flowId), stats, selected: new Set() }) : null),
    [doc, positions, stats, flowId],
  );
  return (
    <div className={`canvas ${className}`} data-testid={testId} aria-label={label} ref={box}>
      {canvas && (
        <ReactFlowProvider key={`${layouts}-${width}`}>
          <ReactFlow nodes={canvas.nodes} edges={canvas.edges} nodeTypes={nodeTypes} edgeTypes={edgeTypes} nodesDraggable={false}
            nodesConnectable={false} fitView fitViewOptions={{ padding: 0.15, maxZoom: 1, minZoom: 0.6 }} proOptions={{ hideAttribution: true }} deleteKeyCode={null}>
            <Background gap={16} />
          </ReactFlow>
        </ReactFlowProvider>
      )}
    </div>
  );
}
