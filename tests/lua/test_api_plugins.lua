-- Plugins from Lua: C and Lua plugins behind one interface, option validation,
-- refused plugins, listing.
local T = require "tap"
local B = "build/tests/plugins/"

T.test("built-in C curriculum: plans of the official schedule", function()
  local c = coconut.plugin.load("curriculum", "coconut", {max_latent_stage = 3, epochs_per_stage = 2, epochs = 10,
                                                          pad_latent_to_max = true, c_thought = 2})
  T.eq(c.kind, "curriculum"); T.eq(c.name, "coconut"); T.eq(c.options.c_thought, 2); T.ok(c.path:find("coconut.so", 1, true))
  T.eq(c:num_stages(), 5)
  T.eq(c:stage_epochs(0), 2); T.eq(c:stage_epochs(4), 2)
  local rng = coconut.rng(1)
  local p = c:train_plan(2, 4, rng)
  T.eq(p.drop_steps, 2); T.eq(p.n_latent, 4); T.eq(p.markers, true)
  p = c:train_plan(4, 2, rng)      -- beyond max stage: all steps dropped, padded to max
  T.ok(p.drop_steps >= 2); T.eq(p.n_latent, 6)
  T.eq(c:eval_plan(1, 5).n_latent, 2)
  T.eq(c:reset_optimizer(1), true)
  T.raises(function() c:columns() end, "this is a curriculum plugin, not a probe plugin")
end)

T.test("options are validated centrally: unknown, bad type, listed", function()
  T.raises(function() coconut.plugin.load("curriculum", "coconut", {c_thoughts = 2}) end,
    "curriculum 'coconut': unknown option 'c_thoughts'; valid options: c_thought, max_latent_stage")
  T.raises(function() coconut.plugin.load("curriculum", "coconut", {c_thought = "two"}) end, "c_thought")
  T.raises(function() coconut.plugin.load("eot", "fixed", {k = 1.5}) end, "'k'")
  T.raises(function() coconut.plugin.load("probe", "no_such_probe") end, "no_such_probe")
  T.raises(function() coconut.plugin.load("gizmo", "x") end, "kind must be dataset, curriculum, eot or probe")
end)

T.test("a wrong-ABI plugin is refused naming both versions; a failing init is unloaded", function()
  T.raises(function() coconut.plugin.load("probe", B .. "abi999.so") end, "ABI 999")
  local e = T.raises(function() coconut.plugin.load("probe", B .. "init_fails.so") end, "init_fails.so")
  T.ok(e:find("init", 1, true), e)
  T.raises(function() coconut.plugin.load("probe", B .. "not_a_plugin.so") end, "not_a_plugin.so")
  -- a good plugin by explicit path
  T.raises(function() coconut.plugin.load("probe", B .. "good_probe.so", {}) end, "required option 'tag'")
  local p = coconut.plugin.load("probe", B .. "good_probe.so", {tag = "x"})
  T.eq(p.kind, "probe"); T.eq(p.options.tag, "x")
  T.eq(#p:columns(), 6)
  -- the event's appended steps reach a C probe through the Lua host
  local rows = p:on_example{split = "test", index = 3, steps = {"Tom is a cat.", "Every cat is a mammal."}, tokens = {}}
  T.eq(rows[1][6], "2:Tom is a cat.")
  T.eq(p:on_example{split = "test", index = 4, tokens = {}}[1][6], "0:")
  T.raises(function() p:on_example{split = "test", index = 5, steps = {"a", 7}, tokens = {}} end, "event.steps[2] is not a string")
end)

T.test("Lua plugins: the probe template, and a probe written here", function()
  local p = coconut.plugin.load("probe", "template.lua", {})
  T.eq(p.kind, "probe"); T.ok(#p:columns() >= 2)
  local d = T.tmpdir("lplug")
  assert(coconut.fs.write(d .. "/lenprobe.lua", [[
return {
  kind = "probe", name = "lenprobe", doc = "length of the output and the first thought's norm",
  options = {{name = "scale", type = "number", default = 1.0, doc = "multiplier"}},
  create = function(opts) return {scale = opts.scale, n = 0} end,
  columns = function(self) return {"index", "len", "norm"} end,
  wants = function(self) return {thoughts = true} end,
  on_example = function(self, ev, emit)
    self.n = self.n + 1
    local norm = ev.thoughts and ev.thoughts:row(1):norm() or 0
    emit({ev.index, #ev.output_text * self.scale, string.format("%.3f", norm)})
  end,
  on_end = function(self, split, epoch, stage, emit) emit({"total", self.n, ""}) end,
}]]))
  local lp = coconut.plugin.load("probe", d .. "/lenprobe.lua", {scale = 2})
  T.eq(lp.options.scale, 2.0); T.eq(lp:wants().thoughts, true)
  local rows = lp:on_example{index = 7, output_text = "abc", thoughts = coconut.tensor.from({{3, 4}, {0, 0}})}
  T.eq(#rows, 1); T.eq(rows[1][1], 7); T.eq(rows[1][2], 6.0); T.eq(rows[1][3], "5.000")
  T.eq(lp:on_end("valid", 1, 0)[1][2], 1)
  T.raises(function() coconut.plugin.load("probe", d .. "/lenprobe.lua", {scael = 2}) end,
    "probe 'lenprobe': unknown option 'scael'; valid options: scale")
  -- a C plugin and the same probe interface: the built-in template probe
  local cp = coconut.plugin.load("probe", "template", {})
  T.ok(#cp:columns() >= 3)
  local r = cp:on_example{split = "valid", index = 0, question = "q", gold = "a", prediction = "a", correct = true,
                          output_text = "### a", thoughts = coconut.tensor.from({{3, 4}, {3, 4}}), tokens = {1, 2}}
  T.ok(#r >= 1)
  T.rmtree(d)
end)

T.test("COCONUT_PLUGIN_PATH and `coconut plugins`", function()
  local d = T.tmpdir("ppath")
  assert(coconut.fs.mkdir(d .. "/eot"))
  assert(coconut.fs.write(d .. "/eot/always2.lua", [[
return { kind = "eot", name = "always2", doc = "two thoughts for everyone",
  create = function() return {} end,
  decide = function(self, rows, n, planned, hidden) local s = {} for i = 1, #rows do s[i] = n[i] >= 2 end return s end,
  max_thoughts = function() return 2 end }]]))
  local rc, out = T.sh("COCONUT_PLUGIN_PATH=" .. d .. " " .. (os.getenv("COCONUT_BIN") or "build/coconut") .. " plugins")
  T.eq(rc, 0)
  T.ok(out:find("eot         always2", 1, true), out)
  T.ok(out:find("curriculum  coconut", 1, true), out)
  T.ok(out:find("dataset     prosqa", 1, true), out)
  -- the Lua eot policy drives generation
  local m = coconut.gpt2.new{preset = "tiny", seed = 4, dropout = 0}
  local pol = coconut.plugin.load("eot", d .. "/eot/always2.lua", {})
  local outs, ex = m:generate({{1, 2, 3, 90}, {5, 90}}, {eos_id = 0, start_id = 90, end_id = 91, latent_id = 92,
                                                       max_new_tokens = 3, eot = pol, return_thoughts = true})
  T.eq(ex[1].n_thoughts, 2); T.eq(ex[2].n_thoughts, 2); T.eq(ex[1].thoughts:shape()[1], 2)
  -- and the C fixed policy with planned counts
  local fixed = coconut.plugin.load("eot", "fixed", {})
  local _, ex2 = m:generate({{1, 2, 3, 90}, {5, 90}}, {eos_id = 0, start_id = 90, end_id = 91, latent_id = 92,
                                                        max_new_tokens = 3, eot = fixed, planned = {1, 3}, return_thoughts = true})
  T.eq(ex2[1].n_thoughts, 1); T.eq(ex2[2].n_thoughts, 3)
  T.rmtree(d)
end)

T.test("dataset plugin prosqa: generated splits with graph metadata", function()
  local d = T.tmpdir("ds")
  local ds = coconut.plugin.load("dataset", "prosqa", {dir = d, n_train = 20, n_valid = 5, n_test = 5, seed = 3})
  local v = ds:load("valid")
  T.eq(#v, 5)
  T.ok(v[1].question:find("Is ", 1, true)); T.ok(#v[1].steps >= 3)
  local meta = assert(coconut.json.decode(v[1].meta_json))
  T.ok(#meta.idx_to_symbol >= 3); T.ok(#meta.edges >= 3); T.ok(meta.root)
  T.eq(#ds:load("train"), 20)
  local off = T.shared("prosqa/valid.json")
  if off then
    local o = coconut.plugin.load("dataset", "prosqa", {valid_file = off, generate = false, dir = d})
    T.eq(#o:load("valid"), 300)
  end
  T.rmtree(d)
end)
