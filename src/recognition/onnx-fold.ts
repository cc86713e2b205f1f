/**
 * Folds the elementwise steps that PaddleOCR's ONNX export leaves between the convolutions of PP-OCRv4's
 * recognizer (PP-LCNetV3) into the convolutions themselves, before the model is handed to onnxruntime. The export
 * (paddle2onnx, opset 9) writes each block as
 *
 *   Conv -> Mul(a) -> Add(b) -> hardswish as Add(3), Clip(0, 6), Mul, Div(6) -> Mul(c) -> Add(d) -> Conv ...
 *
 * where a, b, c and d are single numbers (the "learnable affine blocks"): eight elementwise passes over the block's
 * output per convolution, a third of the recognizer's time on one core, which onnxruntime's own optimizer does not
 * fuse. Three rewrites, each exact in arithmetic (the outputs agree with the model as shipped to about 1e-6):
 *
 * - Conv then Mul(a), Add(b): the convolution's weights times a, its bias times a plus b.
 * - Add(3), Clip(0, 6), Mul(x), Div(6) on x: Mul(x, HardSigmoid(x; 1/6, 0.5)) (opset 6; onnxruntime fuses it into
 *   the convolution before it).
 * - Mul(c), Add(d) feeding a 1x1 convolution without padding or groups: its weights times c, its bias plus d times
 *   the sum of each output channel's weights (with padding the border would differ: those are left as they are).
 *
 * A pattern that does not match exactly (a value used twice, a constant that is not a single number, a model with
 * subgraphs) is left alone, so any model loads: one without these patterns comes back unchanged. The ONNX file is a protocol buffer; only the
 * fields needed here are decoded (nodes, their attributes and constant tensors), the rest is copied as read.
 */

/**
 * One field of a protocol buffer message: its number, wire type and value. A varint (wire 0) is a number (ONNX's
 * here are small); a length-delimited field (wire 2) holds its bytes as read, or the fields of a message built here
 * (written once, into the one buffer of the whole model: no copy per level of nesting).
 */
interface Field {
  no: number;
  wire: number;
  value: number | Uint8Array | Field[];
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
  }
}

function decode(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [key, p] = readVarint(buf, pos);
    pos = p;
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const [v, q] = readVarint(buf, pos);
      fields.push({ no, wire, value: v });
      pos = q;
    } else if (wire === 2) {
      const [len, q] = readVarint(buf, pos);
      if (q + len > buf.length) throw new Error('truncated field');
      fields.push({ no, wire, value: buf.subarray(q, q + len) });
      pos = q + len;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      fields.push({ no, wire, value: buf.subarray(pos, pos + n) });
      pos += n;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return fields;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** The bytes a message's fields take, each nested message's size remembered for writing. */
function sizeOf(fields: Field[], sizes: Map<Field[], number>): number {
  let size = 0;
  for (const f of fields) {
    size += varintSize(f.no * 8 + f.wire);
    if (typeof f.value === 'number') size += varintSize(f.value);
    else {
      const n = f.value instanceof Uint8Array ? f.value.length : sizeOf(f.value, sizes);
      size += f.wire === 2 ? varintSize(n) + n : n;
    }
  }
  sizes.set(fields, size);
  return size;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

function write(fields: Field[], sizes: Map<Field[], number>, out: Uint8Array, pos: number): number {
  for (const f of fields) {
    pos = writeVarint(out, pos, f.no * 8 + f.wire);
    if (typeof f.value === 'number') pos = writeVarint(out, pos, f.value);
    else if (f.value instanceof Uint8Array) {
      if (f.wire === 2) pos = writeVarint(out, pos, f.value.length);
      out.set(f.value, pos);
      pos += f.value.length;
    } else {
      pos = writeVarint(out, pos, sizes.get(f.value)!);
      pos = write(f.value, sizes, out, pos);
    }
  }
  return pos;
}

function encode(fields: Field[]): Uint8Array {
  const sizes = new Map<Field[], number>();
  const out = new Uint8Array(sizeOf(fields, sizes));
  write(fields, sizes, out, 0);
  return out;
}

const text = new TextDecoder();
const utf8 = new TextEncoder();
const bytes = (f: Field) => f.value as Uint8Array;
const str = (f: Field) => text.decode(bytes(f));
const strField = (no: number, s: string): Field => ({ no, wire: 2, value: utf8.encode(s) });
const msgField = (no: number, fields: Field[]): Field => ({ no, wire: 2, value: fields });
const intField = (no: number, n: number): Field => ({ no, wire: 0, value: n });
const floatField = (no: number, x: number): Field => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return { no, wire: 5, value: b };
};

// ONNX field numbers (onnx.proto)
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP = 4;
const NODE_ATTR = 5;
const NODE_DOMAIN = 7;
const ATTR_NAME = 1;
const ATTR_F = 2;
const ATTR_I = 3;
const ATTR_T = 5;
const ATTR_INTS = 8;
const ATTR_TYPE = 20;
const ATTR_TYPE_FLOAT = 1;
const ATTR_TYPE_TENSOR = 4;
const TENSOR_DIMS = 1;
const TENSOR_TYPE = 2;
const TENSOR_FLOATS = 4;
const TENSOR_RAW = 9;
const FLOAT = 1;

interface Node {
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** The node's fields other than its inputs and outputs, as read (name, op type, attributes, domain). */
  rest: Field[];
  /** The node as read, while it is unchanged. */
  raw?: Uint8Array;
}

interface Tensor {
  dims: number[];
  data: Float32Array;
}

function readNode(buf: Uint8Array): Node {
  const node: Node = { op: '', domain: '', inputs: [], outputs: [], rest: [], raw: buf };
  for (const f of decode(buf)) {
    if (f.no === NODE_INPUT) node.inputs.push(str(f));
    else if (f.no === NODE_OUTPUT) node.outputs.push(str(f));
    else {
      if (f.no === NODE_OP) node.op = str(f);
      if (f.no === NODE_DOMAIN) node.domain = str(f);
      node.rest.push(f);
    }
  }
  return node;
}

function writeNode(node: Node): Field {
  if (node.raw) return { no: GRAPH_NODE, wire: 2, value: node.raw };
  return msgField(GRAPH_NODE, [
    ...node.inputs.map((s) => strField(NODE_INPUT, s)),
    ...node.outputs.map((s) => strField(NODE_OUTPUT, s)),
    ...node.rest,
  ]);
}

function attributes(node: Node): Map<string, Field[]> {
  const out = new Map<string, Field[]>();
  for (const f of node.rest) {
    if (f.no !== NODE_ATTR) continue;
    const fs = decode(bytes(f));
    const name = fs.find((a) => a.no === ATTR_NAME);
    if (name) out.set(str(name), fs);
  }
  return out;
}

function attrFloat(node: Node, name: string): number | undefined {
  const f = attributes(node).get(name)?.find((a) => a.no === ATTR_F);
  return f ? new DataView(bytes(f).buffer, bytes(f).byteOffset, 4).getFloat32(0, true) : undefined;
}

function attrInts(node: Node, name: string): number[] | undefined {
  const fs = attributes(node).get(name);
  if (!fs) return undefined;
  const out: number[] = [];
  for (const f of fs) {
    if (f.no === ATTR_INTS && f.wire === 0) out.push(f.value as number);
    else if (f.no === ATTR_INTS && f.wire === 2) {
      const b = bytes(f);
      for (let pos = 0; pos < b.length; ) {
        const [v, q] = readVarint(b, pos);
        out.push(v);
        pos = q;
      }
    } else if (f.no === ATTR_I) out.push(f.value as number);
  }
  return out;
}

/** A Constant node's float tensor; undefined for any other node or type. */
function constTensor(node: Node): Tensor | undefined {
  if (node.op !== 'Constant' || node.domain !== '') return undefined;
  const t = attributes(node).get('value')?.find((a) => a.no === ATTR_T);
  if (!t) return undefined;
  const dims: number[] = [];
  let type = 0;
  let raw: Uint8Array | undefined;
  const floats: number[] = [];
  for (const f of decode(bytes(t))) {
    if (f.no === TENSOR_DIMS) {
      if (f.wire === 0) dims.push(f.value as number);
      else for (let pos = 0, b = bytes(f); pos < b.length; ) [dims[dims.length], pos] = readVarint(b, pos);
    } else if (f.no === TENSOR_TYPE) type = f.value as number;
    else if (f.no === TENSOR_RAW) raw = bytes(f);
    else if (f.no === TENSOR_FLOATS) {
      const b = bytes(f);
      const view = new DataView(b.buffer, b.byteOffset, b.length);
      if (f.wire === 5) floats.push(view.getFloat32(0, true));
      else for (let i = 0; i + 4 <= b.length; i += 4) floats.push(view.getFloat32(i, true));
    }
  }
  if (type !== FLOAT) return undefined;
  const size = dims.reduce((a, b) => a * b, 1);
  let data: Float32Array;
  if (raw) {
    if (raw.length !== size * 4) return undefined;
    data = new Float32Array(size);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
    for (let i = 0; i < size; i++) data[i] = view.getFloat32(i * 4, true);
  } else {
    if (floats.length !== size) return undefined;
    data = Float32Array.from(floats);
  }
  return { dims, data };
}

function constNode(output: string, t: Tensor): Node {
  // ONNX stores little-endian floats, as every platform onnxruntime-node ships for does
  const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const tensor: Field[] = [...t.dims.map((d) => intField(TENSOR_DIMS, d)), intField(TENSOR_TYPE, FLOAT), strField(8, output), { no: TENSOR_RAW, wire: 2, value: raw }];
  const attr = msgField(NODE_ATTR, [strField(ATTR_NAME, 'value'), { no: ATTR_T, wire: 2, value: tensor }, intField(ATTR_TYPE, ATTR_TYPE_TENSOR)]);
  return { op: 'Constant', domain: '', inputs: [], outputs: [output], rest: [strField(NODE_OP, 'Constant'), attr] };
}

function opNode(op: string, inputs: string[], outputs: string[], floats: Record<string, number> = {}): Node {
  const attrs = Object.entries(floats).map(([name, x]) => msgField(NODE_ATTR, [strField(ATTR_NAME, name), floatField(ATTR_F, x), intField(ATTR_TYPE, ATTR_TYPE_FLOAT)]));
  return { op, domain: '', inputs, outputs, rest: [strField(NODE_OP, op), ...attrs] };
}

/** How many of each rewrite were made. */
export interface FoldStats {
  convAffine: number;
  hardswish: number;
  affineConv: number;
}

/** The model with its elementwise steps folded (see the top of this file), and what was folded. */
export function foldElementwise(model: Uint8Array): { model: Uint8Array; stats: FoldStats } {
  const top = decode(model);
  const gi = top.findIndex((f) => f.no === MODEL_GRAPH);
  const stats: FoldStats = { convAffine: 0, hardswish: 0, affineConv: 0 };
  if (gi < 0) return { model, stats };
  const graph = decode(bytes(top[gi]!));
  const nodes = graph.filter((f) => f.no === GRAPH_NODE).map((f) => readNode(bytes(f)));
  const graphOutputs = new Set(
    graph.filter((f) => f.no === GRAPH_OUTPUT).map((f) => str(decode(bytes(f)).find((v) => v.no === 1) ?? { no: 1, wire: 2, value: new Uint8Array() })),
  );

  // a value read inside a subgraph is not among its node's inputs: its readers could not be counted
  if (nodes.some((n) => ['If', 'Loop', 'Scan'].includes(n.op))) return { model, stats };
  const producer = new Map<string, Node>();
  const uses = new Map<string, Node[]>();
  for (const n of nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) uses.set(i, [...(uses.get(i) ?? []), n]);
  }
  const tensors = new Map<string, Tensor | undefined>();
  // single numbers are remembered; a weight tensor is read when a rewrite needs it (a copy of every one held at
  // once would add the model's size to the memory it takes to load)
  const constOf = (name: string): Tensor | undefined => {
    if (tensors.has(name)) return tensors.get(name);
    const p = producer.get(name);
    const t = p ? constTensor(p) : undefined;
    if (!t || t.data.length === 1) tensors.set(name, t);
    return t;
  };
  const removed = new Set<Node>();
  const before = new Map<Node, Node[]>();
  const insert = (at: Node, ...ns: Node[]) => before.set(at, [...(before.get(at) ?? []), ...ns]);
  /** The one node that reads `name`, where nothing else does (the graph's outputs included). */
  const soleUser = (name: string): Node | undefined => {
    const u = uses.get(name);
    return u && u.length === 1 && !graphOutputs.has(name) && !removed.has(u[0]!) ? u[0] : undefined;
  };
  /** A Mul's or Add's single-number constant operand and its other operand. */
  const scalarOf = (n: Node | undefined, op: string): [number, string] | undefined => {
    if (!n || n.op !== op || n.domain !== '' || n.inputs.length !== 2 || removed.has(n)) return undefined;
    for (const [c, other] of [
      [n.inputs[0]!, n.inputs[1]!],
      [n.inputs[1]!, n.inputs[0]!],
    ] as const) {
      const t = constOf(c);
      // (of rank 0 or 1: a single number of higher rank would broadcast the result to that rank)
      if (t && t.data.length === 1 && t.dims.length <= 1) return [t.data[0]!, other];
    }
    return undefined;
  };
  let serial = 0;
  const convWeights = (conv: Node): { w: Tensor; bias: Float32Array } | undefined => {
    const w = constOf(conv.inputs[1] ?? '');
    if (!w || w.dims.length !== 4) return undefined;
    const b = conv.inputs[2] ? constOf(conv.inputs[2]) : undefined;
    if (conv.inputs[2] && (!b || b.data.length !== w.dims[0])) return undefined;
    return { w, bias: b ? Float32Array.from(b.data) : new Float32Array(w.dims[0]!) };
  };
  const setConv = (conv: Node, input: string, w: Tensor, bias: Float32Array) => {
    const wn = `folded_w_${++serial}`;
    const bn = `folded_b_${serial}`;
    const bt = { dims: [bias.length], data: bias };
    const [wNode, bNode] = [constNode(wn, w), constNode(bn, bt)];
    insert(conv, wNode, bNode);
    // a convolution folded once may be folded again (an affine step before it as well as after it)
    // (their tensors remembered: the nodes' bytes are views of them, so it costs nothing)
    producer.set(wn, wNode).set(bn, bNode);
    tensors.set(wn, w).set(bn, bt);
    conv.inputs = [input, wn, bn];
    conv.raw = undefined;
  };
  const isConv = (n: Node) => n.op === 'Conv' && n.domain === '' && !removed.has(n);

  // Conv -> Mul(a) -> Add(b)
  for (const conv of nodes) {
    if (!isConv(conv) || conv.outputs.length !== 1) continue;
    const mul = soleUser(conv.outputs[0]!);
    const a = scalarOf(mul, 'Mul');
    const add = a && mul && soleUser(mul.outputs[0]!);
    const b = scalarOf(add, 'Add');
    const cw = b && convWeights(conv);
    if (!a || !add || !b || !cw) continue;
    const w = { dims: cw.w.dims, data: cw.w.data.map((x) => x * a[0]) };
    setConv(conv, conv.inputs[0]!, w, cw.bias.map((x) => x * a[0] + b[0]));
    conv.outputs = [add.outputs[0]!];
    conv.raw = undefined;
    producer.set(add.outputs[0]!, conv);
    removed.add(mul!).add(add);
    stats.convAffine++;
  }

  // hardswish: Add(x, 3) -> Clip(0, 6) -> Mul(x, clip) -> Div(6)
  for (const div of nodes) {
    if (removed.has(div) || div.op !== 'Div' || div.domain !== '' || div.inputs.length !== 2) continue;
    const six = constOf(div.inputs[1]!);
    if (!six || six.data.length !== 1 || six.dims.length > 1 || six.data[0] !== 6) continue;
    const mul = producer.get(div.inputs[0]!);
    if (!mul || removed.has(mul) || mul.op !== 'Mul' || mul.inputs.length !== 2 || soleUser(mul.outputs[0]!) !== div) continue;
    const clip = mul.inputs.map((i) => producer.get(i)).find((p) => p?.op === 'Clip' && p.domain === '');
    if (!clip || clip.inputs.length !== 1 || attrFloat(clip, 'min') !== 0 || attrFloat(clip, 'max') !== 6 || soleUser(clip.outputs[0]!) !== mul) continue;
    const add = producer.get(clip.inputs[0]!);
    const three = scalarOf(add, 'Add');
    if (!add || !three || three[0] !== 3 || soleUser(add.outputs[0]!) !== clip) continue;
    const x = three[1];
    const other = mul.inputs[0] === clip.outputs[0] ? mul.inputs[1] : mul.inputs[0];
    if (other !== x) continue;
    const hs = `folded_hs_${++serial}`;
    insert(div, opNode('HardSigmoid', [x], [hs], { alpha: 1 / 6, beta: 0.5 }), opNode('Mul', [x, hs], [div.outputs[0]!]));
    removed.add(add).add(clip).add(mul).add(div);
    stats.hardswish++;
  }

  // Mul(c) -> Add(d) -> a 1x1 Conv without padding or groups
  for (const conv of nodes) {
    if (!isConv(conv)) continue;
    const k = attrInts(conv, 'kernel_shape');
    const pads = attrInts(conv, 'pads') ?? [];
    const group = attrInts(conv, 'group')?.[0] ?? 1;
    // (a 1x1 kernel never pads under auto_pad either)
    if (!k || k.length !== 2 || k[0] !== 1 || k[1] !== 1 || pads.some((p) => p !== 0) || group !== 1) continue;
    const add = producer.get(conv.inputs[0]!);
    const d = scalarOf(add, 'Add');
    if (!add || !d || soleUser(add.outputs[0]!) !== conv) continue;
    const mul = producer.get(d[1]);
    const c = scalarOf(mul, 'Mul');
    const cw = c && convWeights(conv);
    if (!mul || !c || soleUser(mul.outputs[0]!) !== add || !cw) continue;
    const [out, per] = [cw.w.dims[0]!, cw.w.data.length / cw.w.dims[0]!];
    const bias = cw.bias.map((x, o) => {
      let sum = 0;
      for (let i = 0; i < per; i++) sum += cw.w.data[o * per + i]!;
      return x + d[0] * sum;
    });
    if (bias.length !== out) continue;
    setConv(conv, c[1], { dims: cw.w.dims, data: cw.w.data.map((x) => x * c[0]) }, bias);
    removed.add(mul).add(add);
    stats.affineConv++;
  }

  if (stats.convAffine + stats.hardswish + stats.affineConv === 0) return { model, stats };
  const kept: Node[] = [];
  for (const n of nodes) {
    kept.push(...(before.get(n) ?? []));
    if (!removed.has(n)) kept.push(n);
  }
  // constants no node reads any more (the convolutions' old weights and the folded numbers)
  const read = new Set([...kept.flatMap((n) => n.inputs), ...graphOutputs]);
  const final = kept.filter((n) => n.op !== 'Constant' || n.outputs.some((o) => read.has(o)));
  const firstNode = graph.findIndex((f) => f.no === GRAPH_NODE);
  const rest = graph.filter((f) => f.no !== GRAPH_NODE);
  const newGraph = [...rest.slice(0, firstNode), ...final.map(writeNode), ...rest.slice(firstNode)];
  const out = [...top];
  out[gi] = msgField(MODEL_GRAPH, newGraph);
  return { model: encode(out), stats };
}
