import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gridLayout, largestTile, type Rect } from '../../src/domain/layout.ts';

const T = { timeout: 5_000 };
const inside = (r: Rect, c: { width: number; height: number }) =>
  r.x >= 0 && r.y >= 0 && r.x + r.width <= c.width && r.y + r.height <= c.height;
const overlap = (a: Rect, b: Rect) =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

test('portrait composite canvas stacks 4 landscape hosts in one column', T, () => {
  const g = gridLayout({ width: 360, height: 640 }, 4);
  assert.equal(g.columns, 1);
  assert.equal(g.rows, 4);
  assert.deepEqual(g.cells[0], { x: 0, y: 0, width: 360, height: 160 });
  assert.deepEqual(g.tiles[0], { x: 38, y: 0, width: 284, height: 160 });
  assert.deepEqual(g.cells[3], { x: 0, y: 480, width: 360, height: 160 });
});

test('landscape canvas puts 4 hosts in a 2x2 grid', T, () => {
  const g = gridLayout({ width: 1280, height: 720 }, 4);
  assert.equal(g.columns, 2);
  assert.equal(g.rows, 2);
  assert.deepEqual(g.tiles[3], { x: 640, y: 360, width: 640, height: 360 });
});

test('a partial last row is centred', T, () => {
  const g = gridLayout({ width: 1280, height: 720 }, 3);
  assert.equal(g.columns, 2);
  assert.equal(g.tiles[2]!.x, 320);
});

test(
  'every count from 1 to 9 on several canvases: tiles inside, apart, even, 16:9 within 2 px',
  T,
  () => {
    for (const canvas of [
      { width: 360, height: 640 },
      { width: 640, height: 360 },
      { width: 1920, height: 1080 },
      { width: 500, height: 500 },
    ]) {
      for (let n = 1; n <= 9; n++) {
        const g = gridLayout(canvas, n);
        assert.equal(g.tiles.length, n);
        assert.equal(g.cells.length, n);
        g.tiles.forEach((t, i) => {
          assert.ok(
            inside(t, canvas),
            `${n} on ${canvas.width}x${canvas.height}: tile ${i} outside`,
          );
          assert.ok(inside(g.cells[i]!, canvas), `cell ${i} outside`);
          for (const v of [t.x, t.y, t.width, t.height]) assert.equal(v % 2, 0, 'odd value');
          assert.ok(
            Math.abs(t.width - (t.height * 16) / 9) <= 2 + t.width * 0.01,
            `tile ${i} not 16:9`,
          );
          g.tiles.forEach((o, j) =>
            assert.ok(i === j || !overlap(t, o), `tiles ${i} and ${j} overlap`),
          );
        });
      }
    }
  },
);

test('no tiles for no hosts; negative counts are refused', T, () => {
  assert.deepEqual(gridLayout({ width: 360, height: 640 }, 0).tiles, []);
  assert.throws(() => gridLayout({ width: 360, height: 640 }, -1), RangeError);
});

test(
  'the largest tile is a lone host, never above the camera, and any layout fits in it',
  T,
  () => {
    const camera = { width: 640, height: 360 };
    assert.deepEqual(largestTile({ width: 360, height: 640 }, camera), { width: 360, height: 202 });
    assert.deepEqual(largestTile({ width: 1280, height: 720 }, camera), camera);
    assert.deepEqual(largestTile({ width: 640, height: 360 }, camera), camera);
    for (const canvas of [
      { width: 360, height: 640 },
      { width: 640, height: 360 },
      { width: 1920, height: 1080 },
    ]) {
      const largest = largestTile(canvas, camera);
      for (let count = 1; count <= 9; count++)
        for (const tile of gridLayout(canvas, count).tiles)
          assert.ok(
            tile.width <= largest.width || largest.width === camera.width,
            `${count} on ${canvas.width}x${canvas.height}: ${tile.width} > ${largest.width}`,
          );
    }
  },
);
