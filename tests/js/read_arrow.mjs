// arrow-js as a second reader: reads each Arrow IPC file or stream named on the command line
// with apache-arrow (pinned in package.json) and prints one JSON line per input, the canonical
// form of its schema and values that python/tests/test_arrow_conformance.py also builds from
// pyarrow's reading, or {"error": ...} when arrow-js cannot read it. Compressed bodies are
// decoded with the pure-JS lz4js and fzstd, registered in arrow-js's compression registry.
// Integers (64-bit ones, temporal values, decimals' unscaled values) are decimal strings, bytes
// are hex, floats are numbers or "NaN"/"Infinity"/"-Infinity"/"-0".
import { readFileSync } from 'node:fs';
import { tableFromIPC, Vector, Type, CompressionType, UnionMode, Precision, DateUnit, TimeUnit, IntervalUnit }
    from 'apache-arrow';
import { compressionRegistry } from 'apache-arrow/ipc/compression/registry';
import * as lz4 from 'lz4js';
import * as fzstd from 'fzstd';

compressionRegistry.set(CompressionType.LZ4_FRAME, { decode: (b) => lz4.decompress(b) });
compressionRegistry.set(CompressionType.ZSTD, { decode: (b) => fzstd.decompress(b) });

const UNITS = { [TimeUnit.SECOND]: 's', [TimeUnit.MILLISECOND]: 'ms',
    [TimeUnit.MICROSECOND]: 'us', [TimeUnit.NANOSECOND]: 'ns' };

function typeName(t) {
    switch (t.typeId) {
    case Type.Null: return 'null';
    case Type.Bool: return 'bool';
    case Type.Int: return `${t.isSigned ? 'int' : 'uint'}${t.bitWidth}`;
    case Type.Float: return { [Precision.HALF]: 'float16', [Precision.SINGLE]: 'float32',
        [Precision.DOUBLE]: 'float64' }[t.precision];
    case Type.Decimal: return `decimal${t.bitWidth}(${t.precision},${t.scale})`;
    case Type.Date: return t.unit === DateUnit.DAY ? 'date32' : 'date64';
    case Type.Time: return `time${t.bitWidth}[${UNITS[t.unit]}]`;
    case Type.Timestamp: return `timestamp[${UNITS[t.unit]},${t.timezone ?? ''}]`;
    case Type.Duration: return `duration[${UNITS[t.unit]}]`;
    case Type.Interval: return { [IntervalUnit.YEAR_MONTH]: 'interval[ym]',
        [IntervalUnit.DAY_TIME]: 'interval[dt]', [IntervalUnit.MONTH_DAY_NANO]: 'interval[mdn]' }[t.unit];
    case Type.Binary: return 'binary';
    case Type.LargeBinary: return 'large_binary';
    case Type.BinaryView: return 'binary_view';
    case Type.Utf8: return 'string';
    case Type.LargeUtf8: return 'large_string';
    case Type.Utf8View: return 'string_view';
    case Type.FixedSizeBinary: return `fixed_size_binary[${t.byteWidth}]`;
    case Type.List: return 'list';
    case Type.LargeList: return 'large_list';
    case Type.FixedSizeList: return `fixed_size_list[${t.listSize}]`;
    case Type.Struct: return 'struct';
    case Type.Map: return `map[${t.keysSorted}]`;
    case Type.Union: return `union[${t.mode === UnionMode.Dense ? 'dense' : 'sparse'},${[...t.typeIds]}]`;
    case Type.Dictionary: return `dictionary[${typeName(t.indices)},${t.isOrdered}]`;
    default: throw new Error(`read_arrow.mjs: no name for type id ${t.typeId} (${t})`);
    }
}

function meta(m) {
    return [...(m ?? new Map()).entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function canonType(t) {
    if (t.typeId === Type.Dictionary) return { t: typeName(t), c: [], v: canonType(t.dictionary) };
    return { t: typeName(t), c: (t.children ?? []).map(canonField) };
}

function canonField(f) {
    return { name: f.name, nullable: f.nullable, metadata: meta(f.metadata), type: canonType(f.type) };
}

const hex = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString('hex');

function float(v) {
    if (Number.isNaN(v)) return 'NaN';
    if (v === Infinity) return 'Infinity';
    if (v === -Infinity) return '-Infinity';
    if (Object.is(v, -0)) return '-0';
    return v;
}

// a two's complement integer of `words` little-endian 32-bit words
function wordsToBigInt(words, bits) {
    let v = 0n;
    for (let k = words.length - 1; k >= 0; k--) v = (v << 32n) | BigInt(words[k] >>> 0);
    return BigInt.asIntN(bits, v);
}

const dictCache = new Map();

function dictValues(vector) {
    if (!dictCache.has(vector)) dictCache.set(vector, vector.data.flatMap((d) => values(d)));
    return dictCache.get(vector);
}

// canonical values of one Data (an array), one entry per slot
function values(d) {
    const t = d.type;
    const n = d.length;
    const out = new Array(n);
    if (t.typeId === Type.Null) return out.fill(null);
    if (t.typeId === Type.Union) {
        const kids = d.children.map(values);
        for (let i = 0; i < n; i++) {
            const code = d.typeIds[i];
            const at = t.mode === UnionMode.Dense ? Number(d.valueOffsets[i]) : i;
            out[i] = [String(code), kids[t.typeIdToChildIndex[code]][at]];
        }
        return out;
    }
    let kids = null;
    if ([Type.List, Type.LargeList, Type.FixedSizeList, Type.Struct, Type.Map].includes(t.typeId)) {
        kids = d.children.map(values);
    }
    const dict = t.typeId === Type.Dictionary ? dictValues(d.dictionary) : null;
    for (let i = 0; i < n; i++) {
        if (!d.getValid(i)) {
            out[i] = null;
            continue;
        }
        const j = d.offset + i;
        switch (t.typeId) {
        case Type.Bool: out[i] = ((d.values[j >> 3] >> (j & 7)) & 1) === 1; break;
        case Type.Int: case Type.Date: case Type.Time: case Type.Timestamp: case Type.Duration:
            out[i] = String(d.values[i]);
            break;
        case Type.Float:
            out[i] = float(t.precision === Precision.HALF ? halfToNumber(d.values[i]) : d.values[i]);
            break;
        case Type.Decimal: {
            const w = t.bitWidth / 32;
            out[i] = String(wordsToBigInt(d.values.subarray(w * i, w * (i + 1)), t.bitWidth));
            break;
        }
        case Type.Interval: {
            if (t.unit !== IntervalUnit.MONTH_DAY_NANO) throw new Error('interval unit not handled');
            const v = d.values.subarray(4 * i, 4 * i + 4);
            out[i] = [String(v[0]), String(v[1]), String(wordsToBigInt(v.subarray(2, 4), 64))];
            break;
        }
        case Type.Binary: case Type.LargeBinary: case Type.BinaryView: case Type.FixedSizeBinary:
        case Type.Utf8: case Type.LargeUtf8: case Type.Utf8View: {
            const v = vectorOf(d).get(i);
            out[i] = typeof v === 'string' ? v : hex(v);
            break;
        }
        case Type.List: case Type.LargeList: case Type.Map:
            out[i] = kids[0].slice(Number(d.valueOffsets[i]), Number(d.valueOffsets[i + 1]));
            break;
        case Type.FixedSizeList:
            out[i] = kids[0].slice(t.listSize * i, t.listSize * (i + 1));
            break;
        case Type.Struct: out[i] = kids.map((k) => k[i]); break;
        case Type.Dictionary: out[i] = dict[Number(d.values[i])]; break;
        default: throw new Error(`read_arrow.mjs: no values for type ${t}`);
        }
    }
    return out;
}

// IEEE half precision bits to a number
function halfToNumber(h) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) return s * m * 2 ** -24;
    if (e === 31) return m ? NaN : s * Infinity;
    return s * (1 + m / 1024) * 2 ** (e - 15);
}

const vectors = new Map();
function vectorOf(d) {
    if (!vectors.has(d)) vectors.set(d, new Vector([d]));
    return vectors.get(d);
}

function main() {
    for (const path of process.argv.slice(2)) {
        let line;
        try {
            const table = tableFromIPC(readFileSync(path));
            const fields = table.schema.fields;
            const columns = fields.map((_, c) => table.batches.flatMap((b) => values(b.data.children[c])));
            line = { schema: { fields: fields.map(canonField), metadata: meta(table.schema.metadata) },
                columns };
        } catch (e) {
            line = { error: String(e && e.message ? e.message : e) };
        }
        process.stdout.write(`${JSON.stringify({ path, ...line })}\n`);
    }
}

main();
