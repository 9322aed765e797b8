-- GPT-2 model, step outputs, collate, generation and AdamW from Lua, checked
-- against the PyTorch fixtures (tests/fixtures) where a reference exists.
local T = require "tap"
local FIX = "tests/fixtures/"

local function maxdiff(a, b)
  T.eq(a:numel(), b:numel(), "element count")
  local ta, tb = a:totable(), b:totable()
  local m = 0
  local function walk(x, y)
    if type(x) == "table" then for i = 1, #x do walk(x[i], y[i]) end
    else m = math.max(m, math.abs(x - y)) end
  end
  walk(ta, tb)
  return m
end

T.test("gpt2.new: presets, config, options checked", function()
  local m = coconut.gpt2.new{preset = "tiny", seed = 3, dropout = 0}
  local c = m:config()
  T.eq(c.n_layer, 2); T.eq(c.n_embd, 32); T.eq(c.vocab_size, 96); T.eq(c.attn_pdrop, 0.0)
  T.raises(function() coconut.gpt2.new{preset = "tiny", n_layers = 3} end,
    "gpt2.new: unknown option 'n_layers'; valid options: preset, n_layer")
  T.raises(function() coconut.gpt2.new{preset = "huge"} end, "unknown GPT-2 preset 'huge'")
  T.raises(function() coconut.gpt2.new{preset = "tiny", n_head = 5} end, "n_embd = 32 must be a positive multiple of n_head = 5")
  local names = m:param_names()
  T.eq(names[1], "wte.weight"); T.eq(names[3], "h.0.ln_1.weight"); T.eq(#names, 28)
  local p = m:params()
  T.eq(p["h.1.attn.c_attn.weight"]:shape()[2], 96)
  T.eq(coconut.gpt2.presets().gpt2.n_embd, 768)
end)

T.test("forward/backward through Lua matches PyTorch (gpt2 fixture)", function()
  local m = assert(coconut.gpt2.load(FIX .. "gpt2/model.safetensors"))
  local io = assert(coconut.safetensors.load(FIX .. "gpt2/io.safetensors"))
  local out = m:forward{input_ids = io.input_ids:totable(), attention_mask = io.attention_mask,
                        labels = io.labels, position_ids = io.position_ids}
  T.near(out.loss, io.loss:item(), 1e-5 * io.loss:item(), "loss")
  T.ok(maxdiff(out.logits, io.logits) < 1e-4, "logits")
  T.ok(maxdiff(out.hidden, io.hidden) < 1e-4, "hidden")
  m:zero_grad()
  out:backward()
  local g = m:grads()
  T.ok(maxdiff(g["h.0.mlp.c_fc.weight"], io["grad.h.0.mlp.c_fc.weight"]) < 1e-5, "grad c_fc")
  T.ok(maxdiff(g["wte.weight"], io["grad.wte.weight"]) < 1e-5, "grad wte")
  -- gradients accumulate until zeroed
  local before = g["ln_f.bias"]:get(1)
  local out2 = m:forward{input_ids = io.input_ids, attention_mask = io.attention_mask, labels = io.labels,
                         position_ids = io.position_ids}
  out2:backward()
  T.near(m:grads()["ln_f.bias"]:get(1), 2 * before, 1e-5)
  out:close(); out2:close()
  T.raises(function() return out.logits end, "step output was closed")
end)

T.test("latent forward through Lua matches PyTorch (latent fixture)", function()
  local m = assert(coconut.gpt2.load(FIX .. "latent/model.safetensors"))
  local io = assert(coconut.safetensors.load(FIX .. "latent/io.safetensors"))
  -- rebuild the examples, collate them with coconut.collate, compare the batch
  local ids, mask, lab = io.input_ids:totable(), io.attention_mask:totable(), io.labels:totable()
  local ex = {}
  for b = 1, #ids do
    local e = {input_ids = {}, labels = {}}
    for c = 1, #ids[b] do
      if mask[b][c] == 1 then e.input_ids[#e.input_ids + 1] = ids[b][c]; e.labels[#e.labels + 1] = lab[b][c] end
    end
    ex[b] = e
  end
  local batch = coconut.collate(ex, {latent_id = 98, pad_id = 95, start_id = 96})
  T.eq(maxdiff(batch.position_ids, io.position_ids), 0)
  T.eq(maxdiff(batch.input_ids, io.input_ids), 0)
  local out <close> = m:forward(batch)
  T.eq(out.passes, 5)
  T.near(out.loss, io.loss:item(), 1e-5 * io.loss:item())
  T.ok(maxdiff(out.embeds, io.embeds) < 1e-4, "embeds")
  T.ok(maxdiff(out.logits, io.logits) < 1e-4, "logits")
  m:zero_grad(); out:backward()
  T.ok(maxdiff(m:grads()["h.1.attn.c_proj.weight"], io["grad.h.1.attn.c_proj.weight"]) < 1e-5)
end)

T.test("forward refuses malformed batches with clear messages", function()
  local m = coconut.gpt2.new{preset = "tiny", seed = 1}
  T.raises(function() m:forward{input_ids = {{1, 2, 3}, {1, 2}}} end, "row lengths disagree")
  T.raises(function() m:forward{input_ids = {{1, 2, 3}}, labels = {{1, 2}}} end, "'labels' is [1,2] i32 but input_ids is [1,3]")
  T.raises(function() m:forward{input_ids = {{1, 90, 91, 90, 2}}, latent_id = 90, start_id = 95} end,
    "<|latent|> at column 1 is not preceded by <|start-latent|>")
  T.raises(function() m:forward{input_ids = {{1, 95, 90, 3, 90}}, latent_id = 90, start_id = 95} end, "latents are not contiguous")
  T.raises(function() m:forward{input_ids = {{1, 2, 300}}} end, "embedding: id 300 at flat position 2 is outside the vocabulary")
  T.raises(function() m:forward{input_ids = {{1}}, labelz = {{1}}} end, "batch: unknown option 'labelz'")
  T.raises(function() m:forward({input_ids = {{1}}}, {logit = true}) end, "forward options: unknown option 'logit'")
  local out <close> = m:forward({input_ids = {{1, 2}}}, {logits = false, grad = false})
  T.eq(out.loss, nil)
  T.raises(function() return out.logits end, "logits were not kept")
  T.raises(function() out:backward() end, "this step has no loss")
end)

T.test("generate matches PyTorch greedy generations; latent-slot form; Lua eot", function()
  local m = assert(coconut.gpt2.load(FIX .. "latent/model.safetensors"))
  local g = assert(coconut.json.read(FIX .. "latent/generate.json"))
  local prompts, ks, official = {}, {}, {}
  for i, e in ipairs(g.generations) do prompts[i] = e.prompt_ids; ks[i] = e.k; official[i] = e.official_input_ids end
  local opts = {max_new_tokens = 8, eos_id = 95, start_id = 96, end_id = 97, latent_id = 98}
  opts.eot = ks
  local outs, extra = m:generate(prompts, (function() local o = {} for k, v in pairs(opts) do o[k] = v end o.return_thoughts = true return o end)())
  for i, e in ipairs(g.generations) do
    T.eq(#outs[i], #e.new_tokens, "length " .. i)
    for j = 1, #e.new_tokens do T.eq(outs[i][j], e.new_tokens[j]) end
    T.eq(extra[i].n_thoughts, e.k)
  end
  -- the official eval prompts (k latent slots + end marker) give the same tokens
  local o2 = {max_new_tokens = 8, eos_id = 95, start_id = 96, end_id = 97, latent_id = 98}
  local outs2 = m:generate(official, o2)
  for i = 1, #outs do T.eq(table.concat(outs2[i], ","), table.concat(outs[i], ",")) end
  -- a Lua function as the <eot> policy: stop after planned-or-2 thoughts
  local calls = 0
  local outs3, ex3 = m:generate(prompts, {max_new_tokens = 8, eos_id = 95, start_id = 96, end_id = 97, latent_id = 98,
    return_thoughts = true, eot = function(row, n, planned, hidden)
      calls = calls + 1
      T.eq(hidden:numel(), 32)
      return n >= ks[row]
    end})
  T.ok(calls > 0)
  for i = 1, #outs do T.eq(table.concat(outs3[i], ","), table.concat(outs[i], ",")); T.eq(ex3[i].n_thoughts, ks[i]) end
  T.raises(function() m:generate(prompts, {max_new_tokens = 2, eos_id = 95, start_id = 96, end_id = 97,
    eot = function() error("policy broke") end}) end, "policy broke")
  T.raises(function() m:generate({{1, 98, 98}}, {eos_id = 95, start_id = 96, end_id = 97, latent_id = 98}) end,
    "has latent slots but is not")
end)

T.test("adamw from Lua reproduces torch.optim.AdamW (5 steps)", function()
  local m = assert(coconut.gpt2.load(FIX .. "gpt2/model.safetensors"))
  local io = assert(coconut.safetensors.load(FIX .. "gpt2/io.safetensors"))
  local ref = assert(coconut.safetensors.load(FIX .. "gpt2/adamw.safetensors"))
  local opt = coconut.optim.adamw(m, {lr = 1e-2, weight_decay = 0.01, betas = {0.9, 0.999}, eps = 1e-8})
  local batch = {input_ids = io.input_ids, attention_mask = io.attention_mask, labels = io.labels, position_ids = io.position_ids}
  for s = 1, 5 do
    m:zero_grad()
    local out <close> = m:forward(batch, {logits = false})
    T.near(out.loss, ref.losses:get(s), 1e-5 * ref.losses:get(s), "loss " .. s)
    out:backward()
    opt:step()
  end
  T.eq(opt:steps(), 5)
  T.ok(maxdiff(m:params()["h.1.mlp.c_fc.weight"], ref["final.h.1.mlp.c_fc.weight"]) < 2e-5)
  local d = T.tmpdir("opt")
  T.ok(opt:save(d .. "/opt.safetensors"))
  local opt2 = coconut.optim.adamw(m, {lr = 1e-2})
  T.ok(opt2:load(d .. "/opt.safetensors")); T.eq(opt2:steps(), 5)
  local ok, msg = opt2:load(d .. "/missing.safetensors")
  T.eq(ok, nil); T.ok(msg:find("missing.safetensors: cannot open", 1, true), msg)
  opt:reset(); T.eq(opt:steps(), 0)
  T.raises(function() coconut.optim.adamw(m, {learning_rate = 1}) end, "adamw options: unknown option 'learning_rate'")
  m:add_tokens(3, 10)
  T.raises(function() opt:step() end, "parameters were replaced (add_tokens)")
  T.rmtree(d)
end)

T.test("save / load round trip; load errors return nil, message", function()
  local m = coconut.gpt2.new{preset = "tiny", seed = 9}
  local first = m:add_tokens(3, 16)
  T.eq(first, 96); T.eq(m:config().vocab_size, 99)
  local d = T.tmpdir("save")
  T.ok(m:save(d .. "/model.safetensors"))
  T.ok(coconut.fs.exists(d .. "/config.json"))
  local r = assert(coconut.gpt2.load(d .. "/model.safetensors"))
  T.eq(r:config().vocab_size, 99)
  T.eq(r:params()["wte.weight"]:get(98, 5), m:params()["wte.weight"]:get(17, 5))
  local bad, msg = coconut.gpt2.load(d .. "/nope.safetensors")
  T.eq(bad, nil); T.ok(msg:find("nope.safetensors: cannot open", 1, true), msg)
  assert(coconut.fs.write(d .. "/junk.safetensors", "not a model at all, really"))
  bad, msg = coconut.gpt2.load(d .. "/junk.safetensors")
  T.eq(bad, nil); T.ok(msg:find("junk.safetensors: header length", 1, true), msg)
  T.rmtree(d)
end)

T.test("train() toggles dropout; eval forward is deterministic", function()
  local m = coconut.gpt2.new{preset = "tiny", seed = 2, dropout = 0.5}
  local b = {input_ids = {{1, 2, 3, 4}}, labels = {{-100, 2, 3, 4}}}
  m:train(false)
  local a = m:forward(b).loss
  T.eq(m:forward(b).loss, a)
  m:train(true); T.eq(m:training(), true)
  T.ok(m:forward(b).loss ~= a, "dropout changes the loss in training mode")
end)

-- Label sets (issue 12's "bfs" loss): the loss at a set position t is
-- -log sum_{v in S} softmax(logits at t-1)_v, averaged with the plain labels.
-- Reference computed here in Lua from out.logits.
local function loss_from_logits(out, batch)
  local lg = out.logits:totable()          -- [B][T][V]
  local lab = batch.labels:totable()       -- [B][T]
  local T_ = #lab[1]
  local sets = {}                          -- flat 0-based label position -> list of ids
  if batch.set_pos then
    local sp, so, si = batch.set_pos:totable(), batch.set_offsets:totable(), batch.set_ids:totable()
    for k = 1, #sp do
      local ids = {}
      for j = so[k] + 1, so[k + 1] do ids[#ids + 1] = si[j] end
      sets[sp[k]] = ids
    end
  end
  local total, count = 0, 0
  for b = 1, #lab do
    for t = 2, T_ do
      local x = lg[b][t - 1]
      local mx = -math.huge
      for v = 1, #x do mx = math.max(mx, x[v]) end
      local z = 0
      for v = 1, #x do z = z + math.exp(x[v] - mx) end
      local lse = mx + math.log(z)
      local set = sets[(b - 1) * T_ + (t - 1)]
      if set then
        local ps = 0
        for _, v in ipairs(set) do ps = ps + math.exp(x[v + 1] - lse) end
        total, count = total - math.log(ps), count + 1
      elseif lab[b][t] ~= -100 then
        total, count = total + lse - x[lab[b][t] + 1], count + 1
      end
    end
  end
  return total / count, count
end

T.test("label_sets: collate packs them; loss = mean over labels and sets, from the logits", function()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = 40, seed = 11, dropout = 0}
  local items = {
    {input_ids = {1, 2, 3, 4, 5, 6, 7}, labels = {-100, -100, -100, 4, -100, 6, 7}, label_sets = {[5] = {5, 9, 12}}},
    {input_ids = {3, 8, 9, 10}, labels = {-100, -100, -100, -100}, label_sets = {[2] = {20}, [4] = {1, 2, 2, 30}}},
  }
  local batch = coconut.collate(items, {pad_id = 0})
  T.eq(table.concat(batch.set_pos:totable(), ","), "4,8,10")        -- flat b*T + t, 0-based, T = 7
  T.eq(table.concat(batch.set_offsets:totable(), ","), "0,3,4,7")
  T.eq(table.concat(batch.set_ids:totable(), ","), "5,9,12,20,1,2,30") -- sorted, duplicate 2 dropped
  local out <close> = m:forward(batch)
  local ref, n = loss_from_logits(out, batch)
  T.eq(n, 6); T.eq(out.label_tokens, 6)
  T.near(out.loss, ref, 1e-5 * math.abs(ref), "loss vs Lua reference")
  local fused <close> = m:forward(batch, {logits = false})
  T.near(fused.loss, ref, 1e-5 * math.abs(ref), "fused head")
  -- only sets: the mean set loss
  local only = coconut.collate({items[2]}, {pad_id = 0})
  local o2 <close> = m:forward(only)
  local ref2, n2 = loss_from_logits(o2, only)
  T.eq(n2, 2); T.near(o2.loss, ref2, 1e-5 * math.abs(ref2))
  -- backward runs and reaches the embeddings
  m:zero_grad(); out:backward()
  T.ok(m:grads()["wte.weight"]:norm() > 0)
end)

T.test("label_sets: a set of one id is the plain label (loss and gradients)", function()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = 40, seed = 12, dropout = 0}
  local plain = coconut.collate({{input_ids = {1, 2, 3, 4, 5}, labels = {-100, 2, 3, 4, 5}}}, {pad_id = 0})
  local sets = coconut.collate({{input_ids = {1, 2, 3, 4, 5}, labels = {-100, 2, -100, 4, -100},
                                 label_sets = {[3] = {3}, [5] = {5}}}}, {pad_id = 0})
  for _, logits in ipairs{true, false} do
    m:zero_grad()
    local a <close> = m:forward(plain, {logits = logits}); a:backward()
    local ga = m:grads()["h.0.attn.c_attn.weight"]:clone()
    m:zero_grad()
    local b <close> = m:forward(sets, {logits = logits}); b:backward()
    T.eq(b.loss, a.loss)
    T.eq(maxdiff(m:grads()["h.0.attn.c_attn.weight"], ga), 0)
  end
end)

T.test("label_sets in a latent batch (multi-pass forward)", function()
  local LAT, START, END, PAD = 38, 36, 37, 39
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = 40, seed = 13, dropout = 0}
  local items = {
    -- q q q START LAT LAT END a a eos: the set stands for the first answer token (position 8)
    {input_ids = {1, 2, 3, START, LAT, LAT, END, 5, 6, PAD}, labels = {-100, -100, -100, -100, -100, -100, -100, -100, 6, PAD},
     label_sets = {[8] = {5, 11, 17}}},
    -- one latent, first latent one column earlier -> one left pad in the batch
    {input_ids = {4, 5, START, LAT, END, 7, PAD}, labels = {-100, -100, -100, -100, -100, -100, PAD},
     label_sets = {[6] = {7, 8}}},
  }
  local batch = coconut.collate(items, {latent_id = LAT, pad_id = PAD, start_id = START})
  local T_ = batch.input_ids:shape()[2]
  T.eq(batch.set_pos:get(2), T_ + 1 + 5)   -- row 2, left pad 1, position 6 -> column 6 (0-based)
  local out <close> = m:forward(batch)
  T.eq(out.passes, 3)
  local ref = loss_from_logits(out, batch)
  T.near(out.loss, ref, 1e-5 * math.abs(ref), "latent loss vs Lua reference")
  local fused <close> = m:forward(batch, {logits = false})
  T.near(fused.loss, ref, 1e-5 * math.abs(ref), "latent fused head")
  m:zero_grad(); fused:backward()
  T.ok(m:grads()["ln_f.weight"]:norm() > 0)
end)

T.test("label_sets: bad positions, labels and ids are refused with clear messages", function()
  local m = coconut.gpt2.new{preset = "tiny", vocab_size = 40, seed = 14}
  local function col(sets, labels)
    return coconut.collate({{input_ids = {1, 2, 3}, labels = {-100, -100, -100}},
                            {input_ids = {1, 2, 3, 4}, labels = labels or {-100, 2, -100, -100}, label_sets = sets}},
                           {pad_id = 0})
  end
  T.raises(function() col({[1] = {3}}) end, "collate: example 2: label set at position 1 is outside 2..4")
  T.raises(function() col({[5] = {3}}) end, "collate: example 2: label set at position 5 is outside 2..4")
  T.raises(function() col({[2] = {3}}) end, "collate: example 2: label set at position 2, but labels[2] = 2; a position scored by a set must have label -100")
  T.raises(function() col({[3] = {}}) end, "collate: example 2: label set at position 3 is empty")
  T.raises(function() col({x = {3}}) end, "collate: examples[2].label_sets: key 'x' is not an integer position")
  T.raises(function() col({[3] = {1, "a"}}) end, "label set at position 3: element 2 is not an integer token id")
  T.raises(function() col({[3] = 7}) end, "label set at position 3 must be a list of token ids")
  T.raises(function() coconut.collate({{input_ids = {1, 2}, label_sets = {[2] = {1}}}}, {pad_id = 0}) end,
    "examples carry label_sets but no labels")
  local b = col({[3] = {3, 40}})
  T.raises(function() m:forward(b) end, "forward: batch: label set 0 (row 1, column 2): token id 40 is outside the vocabulary [0, 40)")
  T.raises(function() m:forward{input_ids = {{1, 2}}, labels = {{-100, -100}}, set_pos = {1}} end,
    "'set_pos', 'set_offsets' and 'set_ids' go together")
end)
