-- template.lua — probe plugin "template", Lua edition: a working probe to copy.
--
-- A Lua plugin is a file returning one table (the convention is in
-- plugins/README.md). The host validates options against `options` with the
-- same rules as for C plugins, calls create(opts) for each instance, and the
-- per-kind callbacks with Lua values. Errors: call error("message"); the run
-- stops with that message (the host prefixes the plugin's name).
--
-- Per evaluated example it records where it ran, whether it was correct, how
-- many thoughts and tokens were used, the first generated token, the length
-- of the generated text and whether the dataset attached metadata; after each
-- evaluation pass, a summary row with index "mean".
--
-- Numeric work on thoughts and logits (norms, cosines, softmax) belongs in
-- tensor operations, not per-element Lua loops: ev.thoughts and ev.logits are
-- coconut.Tensor handles (see the coconut Lua module); the C twin of this file
-- (template.c) computes thought norms, consecutive cosines and the top-1
-- probability. This file shows the structure and the plain-value fields.
--
-- To make your own: copy to <name>.lua, set name = "<name>" (it must equal the
-- file's base name), put it in plugins/probe/ or a directory on
-- $COCONUT_PLUGIN_PATH. When a .so and a .lua share a name in one directory
-- the .so wins; ask for "template.lua" to get this file.

local P = {
  kind = "probe",
  name = "template",  -- = file base name
  doc = "per example: correctness, thought/token counts, first token (Lua template)",
  -- Options: name, type ("int" | "number" | "bool" | "string"), default (a value
  -- of that type; omit it to make the option required) and a one-line doc.
  options = {
    { name = "summary", type = "bool", default = true, doc = "write a 'mean' row after each evaluation pass" },
    { name = "max_text", type = "int", default = 40, doc = "characters of the first token kept" },
  },
}

-- create(opts) -> self. opts maps option names to validated values (numbers,
-- booleans, strings). Whatever table is returned is passed back as `self`.
function P.create(opts)
  if opts.max_text < 1 then error("max_text must be >= 1, got " .. opts.max_text) end
  return { summary = opts.summary, max_text = opts.max_text, n = 0, n_correct = 0, n_thoughts = 0, n_tokens = 0 }
end

-- destroy(self) (optional): release anything that is not garbage-collected.
function P.destroy(self) end

-- columns(self) -> list of CSV column names; constant for the instance.
function P.columns(self)
  return { "split", "epoch", "stage", "index", "correct", "n_thoughts", "n_tokens", "first_token", "output_len",
           "has_meta" }
end

-- wants(self) -> set of extra data to collect: { thoughts = true, logits = true }.
-- This probe uses neither, so the host can skip collecting them.
function P.wants(self)
  return {}
end

-- on_example(self, ev, emit): once per evaluated example. ev fields:
--   split, epoch, stage, index (0-based, as in eval.csv), question, gold,
--   prediction, output_text, correct (boolean), meta_json (string or nil),
--   n_thoughts, d, thoughts (coconut.Tensor [n_thoughts, d] or nil),
--   n_tokens, vocab, tokens (list of ids), token_text (list of strings),
--   n_logits, logits (coconut.Tensor [n_logits, vocab] or nil).
-- emit(row) writes one CSV row: the host reads row[1] .. row[#columns] by
-- position (numbers, booleans and strings become text; nil = an empty cell).
function P.on_example(self, ev, emit)
  local first = ev.token_text[1] or ""
  if #first > self.max_text then first = first:sub(1, self.max_text) end
  emit({ ev.split, ev.epoch, ev.stage, ev.index, ev.correct and 1 or 0, ev.n_thoughts, ev.n_tokens, first,
         #(ev.output_text or ""), ev.meta_json ~= nil and 1 or 0 })
  self.n = self.n + 1
  if ev.correct then self.n_correct = self.n_correct + 1 end
  self.n_thoughts = self.n_thoughts + ev.n_thoughts
  self.n_tokens = self.n_tokens + ev.n_tokens
end

-- on_end(self, split, epoch, stage, emit) (optional): after each evaluation pass.
function P.on_end(self, split, epoch, stage, emit)
  if self.summary and self.n > 0 then
    emit({ split, epoch, stage, "mean", self.n_correct / self.n, self.n_thoughts / self.n, self.n_tokens / self.n,
           nil, nil, nil })
  end
  self.n, self.n_correct, self.n_thoughts, self.n_tokens = 0, 0, 0, 0
end

return P
