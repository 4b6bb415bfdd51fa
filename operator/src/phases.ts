// Pure phase transitions. Terminal phases are final: a late worker report can never turn a
// cancelled job back into completed (or anything else).
import { TerminalPhases, type Phase } from '../../crds/src/status.ts';

const allowed: Record<Phase, readonly Phase[]> = {
  queued: ['processing', 'cancelled', 'failed'],
  processing: ['queued', 'completed', 'failed', 'cancelled'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function isTerminal(phase: Phase): boolean {
  return TerminalPhases.includes(phase);
}

export function canTransition(from: Phase, to: Phase): boolean {
  return from === to ? !isTerminal(from) : allowed[from].includes(to);
}
