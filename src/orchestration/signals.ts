import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { HostEvent } from '../domain/host-presence.ts';
import type { LivestreamState, RecordingSegment, TrackSummary } from './contracts.ts';

/** Signals and queries: shared by workflow code and the clients that send them. */
export const hostEventSignal = defineSignal<[HostEvent]>('hostEvent');
export const stopSignal = defineSignal('stop');
export const recordingEndedSignal = defineSignal<[TrackSummary]>('recordingEnded');
export const livestreamStateQuery = defineQuery<LivestreamState>('state');
export const segmentsQuery = defineQuery<RecordingSegment[]>('segments');
