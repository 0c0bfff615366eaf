// The workflow bundle's entry: workflow code only, deterministic, no I/O.
export { livestreamWorkflow } from './livestream-workflow.ts';
export { compositeRecordingWorkflow, hostRecordingWorkflow } from './recording-workflows.ts';
export { trackEscalationWorkflow } from './escalation-workflow.ts';
