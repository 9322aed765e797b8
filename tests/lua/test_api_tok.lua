-- Tokenizers from Lua.
local T = require "tap"

T.test("word-level tokenizer: build, specials, encode/decode, errors, save/load", function()
  local tok = assert(coconut.tokenizer.words({"Every wumpus is a yumpus.", "Tom is a wumpus.\n### Tom is a yumpus."},
    {specials = {"<|start-latent|>", "<|end-latent|>", "<|latent|>"}}))
  T.eq(tok:kind(), "words"); T.eq(tok:eos(), 0)
  local s = "Every wumpus is a yumpus.\n### Tom is a yumpus."
  local ids = tok:encode(s)
  T.eq(tok:decode(ids), s)
  T.eq(tok:id("<|latent|>"), 3)
  local n = tok:size()
  T.eq(tok:add_special("<|pause|>"), n); T.eq(tok:size(), n + 1)
  T.raises(function() tok:encode("Every dragon is a yumpus.") end, "dragon")
  local d = T.tmpdir("tok")
  T.ok(tok:save(d .. "/tok.json"))
  local t2 = assert(coconut.tokenizer.load(d .. "/tok.json"))
  T.eq(table.concat(t2:encode(s), ","), table.concat(ids, ","))
  local r, msg = coconut.tokenizer.load(d .. "/missing.json")
  T.eq(r, nil); T.ok(msg:find("missing.json", 1, true))
  T.rmtree(d)
end)

T.test("GPT-2 tokenizer from the shared data: Coconut specials and round trip", function()
  local dir = T.shared("gpt2-tokenizer")
  if not dir then T.skip("../shared/data/gpt2-tokenizer absent") end
  local tok = assert(coconut.tokenizer.gpt2(dir .. "/encoder.json", dir .. "/vocab.bpe"))
  T.eq(tok:size(), 50257); T.eq(tok:eos(), 50256)
  T.eq(tok:add_special("<|start-latent|>"), 50257)
  T.eq(tok:add_special("<|end-latent|>"), 50258)
  T.eq(tok:add_special("<|latent|>"), 50259)
  local ids = tok:encode("Hello world<|latent|><|latent|>")
  T.eq(table.concat(ids, ","), "15496,995,50259,50259")
  T.eq(tok:decode(ids), "Hello world<|latent|><|latent|>")
  T.eq(tok:id("<<"), 16791)
  local r, msg = coconut.tokenizer.gpt2(dir .. "/nope.json", dir .. "/vocab.bpe")
  T.eq(r, nil); T.ok(msg:find("nope.json", 1, true), msg)
end)
