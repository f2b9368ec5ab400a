/**
 * The one label of a retrieval configuration, and its inverse: "16d" or "exact 16d" for exact search,
 * "16->2048 @200" for adaptive retrieval, "8->[16,32,2048] @[200,100,10]" for a funnel, each preceded by its
 * first stage when that is not exact search ("hnsw32 16->2048 @200"). The metrics table, the sweep's CSV and
 * checkpoint, the gallery, the logs and describeExperiment all write these strings; the sweep reads them back.
 */
import { isFirstStageName } from "../search/firstStages";
import type { FirstStage, SweepConfig } from "../sweep/grid";
import type { FunnelSpec, RerankSpec } from "./types";

/** Exact search at `dim`, as the metrics table's `config` column writes it: "16d". */
export const dimLabel = (dim: number): string => `${dim}d`;

/**
 * Adaptive "16->2048 @200" or funnel "8->[16,32,2048] @[200,100,10]" (a funnel is told apart by its `dims`),
 * preceded by `firstStage` and a space unless that is "exact" (exact search is written without a name).
 */
export function rerankLabel(c: RerankSpec | FunnelSpec, firstStage: FirstStage = "exact"): string {
  const stage = firstStage === "exact" ? "" : `${firstStage} `;
  if ("dims" in c) return `${stage}${c.retrievalDim}->[${c.dims}] @[${c.shortlists}]`;
  return `${stage}${c.retrievalDim}->${c.rerankDim} @${c.shortlist}`;
}

/** The label of a sweep configuration, as the sweep's CSV and checkpoint write it: "exact 16d", else rerankLabel. */
export function configLabel(c: SweepConfig): string {
  return c.kind === "exact" ? `exact ${dimLabel(c.dim)}` : rerankLabel(c, c.firstStage);
}

// an optional first-stage spec before the dims (none: exact search); checked by isFirstStage below
const STAGE = "(?:([a-z][a-z0-9-]*) )?";
const LABELS = {
  exact: /^exact (\d+)d$/,
  adaptive: new RegExp(`^${STAGE}(\\d+)->(\\d+) @(\\d+)$`),
  funnel: new RegExp(`^${STAGE}(\\d+)->\\[([\\d,]+)\\] @\\[([\\d,]+)\\]$`),
};

// exact search is written without a name, so "exact" before the dims names nothing
const isFirstStage = (name: string): boolean => name !== "exact" && isFirstStageName(name);

/** The configuration a label names (the inverse of configLabel), or undefined when it names none. */
export function parseConfigLabel(label: string): SweepConfig | undefined {
  const list = (s: string): number[] => s.split(",").map(Number);
  let m = LABELS.exact.exec(label);
  if (m) return { kind: "exact", dim: Number(m[1]) };
  m = LABELS.adaptive.exec(label) ?? LABELS.funnel.exec(label);
  if (m?.[1] !== undefined && !isFirstStage(m[1])) return undefined;
  m = LABELS.adaptive.exec(label);
  if (m) return { kind: "adaptive", firstStage: (m[1] ?? "exact") as FirstStage, retrievalDim: Number(m[2]), rerankDim: Number(m[3]), shortlist: Number(m[4]) };
  m = LABELS.funnel.exec(label);
  if (m) return { kind: "funnel", firstStage: (m[1] ?? "exact") as FirstStage, retrievalDim: Number(m[2]), dims: list(m[3]), shortlists: list(m[4]) };
  return undefined;
}
