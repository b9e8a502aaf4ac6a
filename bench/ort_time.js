// onnxruntime's time for bench/bench_arch: runs an ONNX model with onnxruntime-node (2 intra-op
// threads) on every row of a CSV in batches of 256, three passes. Benchmark tool only.
//   node bench/ort_time.js MODEL.onnx DATA.csv SHAPE [PASSES]
// SHAPE is the per-row input shape ("1,28,28"); the CSV's first line is a header and its last
// column the class label. Prints "ort ms T rows N correct C total S passes P": T the best
// pass's time of session.run alone (the CSV is read once and the input tensors built before
// any timing), S the time of all P passes (3 unless PASSES says), C the rows whose argmax
// equals the label. Exit status 3 when onnxruntime-node is not installed.
'use strict';
const fs = require('fs');
let ort;
try {
    ort = require('onnxruntime-node');
} catch (e) {
    console.error('onnxruntime-node is not installed');
    process.exit(3);
}

const BATCH = 256;

async function main() {
    const [model, csv, shapeText, passText] = process.argv.slice(2);
    const PASSES = passText ? Number(passText) : 3;
    const shape = shapeText.split(',').map(Number);
    const per = shape.reduce((a, b) => a * b, 1);
    const lines = fs.readFileSync(csv, 'utf8').split('\n').filter((l) => l.length);
    const rows = lines.length - 1;
    const x = new Float32Array(rows * per);
    const labels = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
        const cells = lines[r + 1].split(',');
        if (cells.length !== per + 1)
            throw new Error(`${csv}:${r + 2}: ${cells.length} cells, expected ${per + 1}`);
        for (let i = 0; i < per; i++) x[r * per + i] = Number(cells[i]);
        labels[r] = Number(cells[per]);
    }
    const session = await ort.InferenceSession.create(model, {
        intraOpNumThreads: 2,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
    });
    const inName = session.inputNames[0], outName = session.outputNames[0];
    const feeds = [];
    for (let r = 0; r < rows; r += BATCH) {
        const n = Math.min(BATCH, rows - r);
        const t = new ort.Tensor('float32', x.subarray(r * per, (r + n) * per), [n, ...shape]);
        feeds.push({rows: n, feed: {[inName]: t}});
    }
    let best = Infinity, total = 0;
    let outputs = [];
    for (let p = 0; p < PASSES; p++) {
        outputs = [];
        const t0 = process.hrtime.bigint();
        for (const f of feeds) outputs.push(await session.run(f.feed));
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        total += ms;
        if (ms < best) best = ms;
    }
    let correct = 0, r0 = 0;
    for (let b = 0; b < feeds.length; b++) {
        const y = outputs[b][outName].data;
        const k = y.length / feeds[b].rows;
        for (let i = 0; i < feeds[b].rows; i++) {
            let arg = 0;
            for (let j = 1; j < k; j++)
                if (y[i * k + j] > y[i * k + arg]) arg = j;
            if (arg === labels[r0 + i]) correct++;
        }
        r0 += feeds[b].rows;
    }
    console.log(`ort ms ${best.toFixed(3)} rows ${rows} correct ${correct} total ${total.toFixed(3)} ` +
                `passes ${PASSES}`);
}
main().catch((e) => {
    console.error(String(e));
    process.exit(1);
});
