/** An edge drawn along the route elk gave it (around other steps), or as a curve without one. */
import { BaseEdge, getBezierPath, type Edge, type EdgeProps } from "@xyflow/react";
import { roundedPath, type Point } from "./layout";

export type RoutedEdgeData = { points?: Point[]; problems?: unknown[] };
export type RoutedFlowEdge = Edge<RoutedEdgeData, "routed">;

export function RoutedEdge(props: EdgeProps<RoutedFlowEdge>) {
  const points = props.data?.points;
  let drawn: { path: string; labelX: number; labelY: number };
  if (points && points.length >= 2) {
    // The ends follow the handles as React Flow measured them; the bends are elk's.
    drawn = roundedPath([
      { x: props.sourceX, y: props.sourceY },
      ...points.slice(1, -1),
      { x: props.targetX, y: props.targetY },
    ]);
  } else {
    const [path, labelX, labelY] = getBezierPath(props);
    drawn = { path, labelX, labelY };
  }
  return (
    <BaseEdge id={props.id} path={drawn.path} labelX={drawn.labelX} labelY={drawn.labelY} label={props.label}
      labelStyle={props.labelStyle} labelShowBg={props.labelShowBg} labelBgStyle={props.labelBgStyle}
      labelBgPadding={props.labelBgPadding} labelBgBorderRadius={props.labelBgBorderRadius}
      markerEnd={props.markerEnd} style={props.style} interactionWidth={props.interactionWidth} />
  );
}

export const edgeTypes = { routed: RoutedEdge };
