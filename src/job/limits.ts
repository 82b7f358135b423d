/**
 * Bounds on a job file, checked before the YAML parser sees it. The parser
 * builds its tree recursively: a document nested a few thousand levels deep
 * runs it out of stack, and a file of tens of megabytes takes minutes and
 * the whole heap. A real job file is a few kilobytes and nests five levels
 * (jobs > item > exclude > item; servers > name > timeouts > key).
 */
import { CST, Lexer } from 'yaml';

/** Largest job file read: 1 MiB, some thousand jobs. */
export const JOB_FILE_MAX_BYTES = 1024 * 1024;

/** Deepest nesting of mappings and lists accepted; SnakeYAML's default limit is 50 too. */
export const JOB_FILE_MAX_DEPTH = 50;

/**
 * The offset of the first node nested deeper than `maxDepth`, or undefined.
 *
 * Linear and without recursion, on the tokens of yaml's Lexer (an iterative
 * state machine): flow collections count their brackets; block collections
 * count a stack of indentation columns, pushed by the first token of each
 * line (or after "- " and "? ") further right than the enclosing one. A list
 * written at the same column as its parent key counts once instead of twice,
 * so the real depth is at most twice what is counted: still far from where
 * the parser's stack runs out (about 900 levels).
 */
export function excessiveNesting(text: string, maxDepth = JOB_FILE_MAX_DEPTH): number | undefined {
  const columns: number[] = [];
  let flow = 0;
  let offset = 0;
  let lineStart = 0;
  let segmentStart = true; // the next token starts a line, or follows "- " / "? "
  let scalarNext = false; // the Lexer marks scalar text with a control token before it
  let blockScalarBody = false; // after "|" or ">", the next scalar is the indented body
  const block = (col: number): boolean => {
    while (columns.length && columns[columns.length - 1] > col) columns.pop();
    if (!columns.length || columns[columns.length - 1] < col) columns.push(col);
    return columns.length + flow > maxDepth;
  };
  for (const token of new Lexer().lex(text)) {
    if (token === CST.DOCUMENT || token === CST.FLOW_END) continue;
    if (token === CST.SCALAR) {
      scalarNext = true;
      continue;
    }
    const start = offset;
    const col = start - lineStart;
    offset += token.length;
    const nl = token.lastIndexOf('\n');
    if (nl !== -1) lineStart = start + nl + 1;

    if (scalarNext) {
      scalarNext = false;
      if (blockScalarBody) {
        // The body is content, whatever its indentation; it runs to the end of a line.
        blockScalarBody = false;
        segmentStart = true;
        continue;
      }
      if (flow === 0 && segmentStart && block(col)) return start;
      segmentStart = nl !== -1 && token.endsWith('\n');
      continue;
    }
    switch (CST.tokenType(token)) {
      case 'newline':
        segmentStart = true;
        break;
      case 'space':
      case 'comment':
        break;
      case 'block-scalar-header':
        blockScalarBody = true;
        segmentStart = false;
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
        if (flow === 0) {
          if (block(col)) return start;
          segmentStart = true;
        }
        break;
      case 'flow-map-start':
      case 'flow-seq-start':
        if (flow === 0 && segmentStart && block(col)) return start;
        flow++;
        segmentStart = false;
        if (columns.length + flow > maxDepth) return start;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        if (flow > 0) flow--;
        break;
      default:
        // Anchors, tags, ":" and the rest: only the first token of a line opens a level.
        if (flow === 0 && segmentStart && block(col)) return start;
        segmentStart = false;
    }
  }
  return undefined;
}
