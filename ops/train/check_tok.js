// Cross-check of ops/train/tok.py against the Hugging Face `tokenizers` library (npm).
//
// Design: reads a tokenizer.json and a JSONL file of task items, builds each item's
// LLaDA-Instruct chat prompt (same string as ops/train/common.py chat_prompt) and its
// answer, encodes both with the HF library (no special tokens added) and prints one JSON
// line per item {"id", "prompt_ids", "answer_ids"}. check_tok.py compares these lines
// with the Python encoder and fails on any difference.
//
//   npm install tokenizers   (e.g. under /tmp/tk; then NODE_PATH=/tmp/tk/node_modules)
//   node ops/train/check_tok.js TOKENIZER_JSON ITEMS_JSONL > ids.jsonl
"use strict";
const fs = require("fs");
const { Tokenizer } = require("tokenizers");

async function main() {
  const [tokPath, itemsPath] = process.argv.slice(2);
  if (!tokPath || !itemsPath) {
    console.error("usage: node check_tok.js TOKENIZER_JSON ITEMS_JSONL");
    process.exit(2);
  }
  const tok = Tokenizer.fromFile(tokPath);
  const enc = (s) => tok.encode(s, null, { addSpecialTokens: false });  // a Promise
  const lines = fs.readFileSync(itemsPath, "utf8").split("\n").filter((l) => l.trim());
  for (const line of lines) {
    const it = JSON.parse(line);
    const prompt = "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\n" +
      it.system + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" + it.user +
      "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    const p = await enc(prompt);
    const a = await enc(it.answer);
    process.stdout.write(JSON.stringify({ id: it.id, prompt_ids: p.getIds(),
      answer_ids: a.getIds() }) + "\n");
  }
}
main().catch((e) => { console.error(String(e)); process.exit(1); });
