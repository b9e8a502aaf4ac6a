// Runs an ONNX model with onnxruntime (npm onnxruntime-node) on the rows of a CSV, as an
// independent reference for the test suite. Test-time tool only.
//   node tests/ort/run.js MODEL.onnx DATA.csv SHAPE OUT.bin [SCALE]
// SHAPE is the per-row input shape ("1,28,28"); the CSV's last column is the label and is
// skipped. Writes the float32 outputs of all rows to OUT.bin (row-major) and prints
// "rows N outputs K". Exit status 3 when onnxruntime-node is not installed.
'use strict';
const fs = require('fs');
let ort;
try {
    ort = require('onnxruntime-node');
} catch (e) {
    console.error('onnxruntime-node is not installed');
    process.exit(3);
}

async function main() {
    const [model, csv, shapeText, out, scaleText] = process.argv.slice(2);
    const shape = shapeText.split(',').map(Number);
    const scale = scaleText ? Number(scaleText) : 1;
    const lines = fs.readFileSync(csv, 'utf8').split('\n').filter((l) => l.length);
    const rows = lines.slice(1).map((l) => l.split(',').slice(0, -1).map((v) => Number(v) * scale));
    const per = shape.reduce((a, b) => a * b, 1);
    const session = await ort.InferenceSession.create(model, {intraOpNumThreads: 1});
    const inName = session.inputNames[0], outName = session.outputNames[0];
    const fixed = session.inputMetadata && session.inputMetadata[0] &&
        typeof session.inputMetadata[0].shape[0] === 'number' ? session.inputMetadata[0].shape[0] : 0;
    const batch = fixed > 0 ? fixed : 64;
    const chunks = [];
    let k = 0;
    for (let r = 0; r < rows.length; r += batch) {
        const n = Math.min(batch, rows.length - r);
        const data = new Float32Array(batch * per);
        for (let i = 0; i < n; i++) data.set(rows[r + i], i * per);
        const feeds = {};
        const b = fixed > 0 ? fixed : n;
        feeds[inName] = new ort.Tensor('float32', data.subarray(0, b * per), [b, ...shape]);
        const res = await session.run(feeds);
        const y = res[outName];
        k = y.data.length / b;
        chunks.push(Buffer.from(y.data.buffer, y.data.byteOffset, n * k * 4));
    }
    fs.writeFileSync(out, Buffer.concat(chunks));
    console.log(`rows ${rows.length} outputs ${k}`);
}
main().catch((e) => {
    console.error(String(e));
    process.exit(1);
});
