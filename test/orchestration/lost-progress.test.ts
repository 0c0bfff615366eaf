import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ActivityFailure,
  ApplicationFailure,
  RetryState,
  TimeoutFailure,
  TimeoutType,
} from '@temporalio/common';
import { WORKER_GONE } from '../../src/orchestration/worker-report.ts';
import { lastHeartbeat } from '../../src/orchestration/workflows/track-loop.ts';

const T = { timeout: 5_000 };

const failed = (cause: Error) =>
  new ActivityFailure(
    'activity failed',
    'awaitRecording',
    '5',
    RetryState.NON_RETRYABLE_FAILURE,
    'worker',
    cause,
  );

test(
  'a recording lost with its media worker hands on how far it got, so numbering goes on',
  T,
  () => {
    const progress = { lastSeq: 6, snippets: 7, atMs: 1_700_000_000_000 };
    assert.deepEqual(
      lastHeartbeat(
        failed(
          ApplicationFailure.nonRetryable('media worker died (SIGKILL)', 'RecordingLost', progress),
        ),
      ),
      progress,
    );
    // Lost with its whole worker process: its node's report says it, or the last heartbeat.
    assert.deepEqual(
      lastHeartbeat(
        failed(ApplicationFailure.nonRetryable('worker slot 0 exited', WORKER_GONE, progress)),
      ),
      progress,
    );
    assert.deepEqual(
      lastHeartbeat(failed(new TimeoutFailure('heartbeat', progress, TimeoutType.HEARTBEAT))),
      progress,
    );
    // A recording the worker no longer knows (it restarted) has nothing to say; nor has any
    // other failure.
    assert.equal(
      lastHeartbeat(failed(ApplicationFailure.nonRetryable('not running', 'RecordingLost'))),
      null,
    );
    assert.equal(
      lastHeartbeat(failed(ApplicationFailure.retryable('other', 'Other', progress))),
      null,
    );
    assert.equal(lastHeartbeat(new Error('not an activity')), null);
  },
);
