/**
 * A labelled Petri net: the one shape that every model format is read into (PNML, BPMN), that
 * discovery produces and that alignments run on. Ids are the file's own (or generated) and unique
 * across places and transitions together.
 */
export interface PetriNet {
  places: PetriPlace[];
  transitions: PetriTransition[];
  /** Arcs go from a place to a transition or from a transition to a place, weight 1 unless stated. */
  arcs: PetriArc[];
  /** Tokens per place id at the start; a workflow net has one token on its source place. */
  initialMarking: Record<string, number>;
  /** Tokens per place id when a run is complete; a workflow net has one token on its sink place. */
  finalMarking: Record<string, number>;
}

export interface PetriPlace {
  id: string;
  name?: string;
}

export interface PetriTransition {
  id: string;
  /** The activity it stands for, or null for a silent transition (a gateway, a skip, a loop back). */
  label: string | null;
}

export interface PetriArc {
  source: string;
  target: string;
  weight?: number;
}

/** The distinct activities of the visible transitions, sorted. */
export function visibleActivities(net: PetriNet): string[] {
  const labels = new Set<string>();
  for (const transition of net.transitions) if (transition.label !== null) labels.add(transition.label);
  return [...labels].sort();
}
