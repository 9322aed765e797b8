-- tests/bad_inputs/run.lua — runs the bad-input table (tests/bad_inputs/cases.lua)
-- and prints TAP, one test per case (counted by tests/run_tests.sh).
--
--   COCONUT_BIN=build/coconut build/coconut run tests/bad_inputs/run.lua [filter]
--
-- For every case: its input files are made in a fresh directory, its command
-- runs, and the case passes when
--   - the exit status is the expected one (2: a user error; never 0, never a crash),
--   - the output holds the expected fragment (which names the file, line or option),
--   - a user error printed no Lua traceback,
--   - no temp file ("<file>.tmp.<pid>", "*.tmp") and no staged or retired
--     checkpoint directory is left anywhere under the case directory or the
--     shared data directory,
--   - the paths the case lists as absent do not exist (by default the results
--     directory of a run that must not start), and the files of a finished run
--     the case starts from are byte for byte as they were (its lock file and
--     the resolved config.json of a resumed run excepted).
-- A case whose precondition is missing (not root for a tmpfs mount, the test
-- plugins not built) is skipped with the reason.
package.path = "tests/lua/?.lua;tests/bad_inputs/?.lua;" .. package.path
local T = require "tap"

local BIN = os.getenv("COCONUT_BIN") or "build/coconut"
local BUILD = BIN:match("^(.*)/[^/]*$") or "."
local filter = arg and arg[1]

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local TMP = T.tmpdir("bad_inputs")
local DATA = TMP .. "/data"
local BASE = TMP .. "/base"

-- The command of a small prosqa_k6 run (one method, one epoch, tiny data).
local QUICK = BIN .. " run experiments/prosqa_k6.lua --preset quick --method nocot --n_train 16 --n_valid 8 --n_test 8 "
  .. "--max_epochs 1 --threads 1 --data " .. DATA

local function expand(s, ctx)
  return (s:gsub("{(%w+)}", function(k)
    local v = ctx[k]
    if v == nil then error("unknown placeholder {" .. k .. "} in '" .. s .. "'", 0) end
    return v
  end))
end

-- Every regular file under dir: relative path -> bytes.
local function snapshot(dir, prefix, out)
  out = out or {}
  for _, e in ipairs(coconut.fs.listdir(dir) or {}) do
    local p, rel = dir .. "/" .. e, (prefix and prefix .. "/" or "") .. e
    if coconut.fs.isdir(p) then snapshot(p, rel, out) else out[rel] = coconut.fs.read(p) end
  end
  return out
end

-- Leftovers of an interrupted or failed write under dir.
local function leftovers(dir, found)
  found = found or {}
  for _, e in ipairs(coconut.fs.listdir(dir) or {}) do
    local p = dir .. "/" .. e
    if e:match("%.tmp%.%d+$") or e:match("%.tmp$") or e:match("^last%.new$") or e:match("^best%.new$")
       or e:match("^last%.old$") or e:match("^best%.old$") or e == ".tokenizer.json.resume" then
      found[#found + 1] = p
    end
    if coconut.fs.isdir(p) and not e:match("%.new$") then leftovers(p, found) end
  end
  return found
end

-- Shared fixtures: the generated data and one finished run to start from.
do
  local rc, out = T.sh(QUICK .. " --results " .. BASE)
  if rc ~= 0 then
    print("1..1")
    print("not ok 1 - bad inputs: the base run failed (exit " .. tostring(rc) .. ")")
    for line in out:gmatch("[^\n]+") do print("# " .. line) end
    os.exit(1)
  end
end

local cases = dofile("tests/bad_inputs/cases.lua")
local ids = {}
for i, c in ipairs(cases) do
  assert(c.name and c.cmd and c.expect, "case " .. i .. " needs name, cmd and expect")
  assert(not ids[c.name], "case name '" .. c.name .. "' used twice")
  ids[c.name] = true
  if not filter or c.name:find(filter, 1, true) or (c.category or ""):find(filter, 1, true) then
    T.test(string.format("[%s] %s", c.category or "misc", c.name), function()
      local dir = string.format("%s/c%02d", TMP, i)
      assert(coconut.fs.mkdir(dir))
      local ctx = {dir = dir, data = DATA, bin = BIN, build = BUILD, quick = QUICK, inputs = "tests/bad_inputs/inputs",
                   base = dir .. "/results", res = "--results " .. dir .. "/results"}
      ctx.run = dir .. "/results/prosqa_k6/quick" -- the run directory of {quick} {res}
      if c.skip then
        local why = c.skip(ctx)
        if why then T.skip(why) end
      end
      if c.from_base then os.execute("cp -a " .. sh_quote(BASE) .. " " .. sh_quote(dir .. "/results")) end
      for name, content in pairs(c.files or {}) do
        local path = dir .. "/" .. name
        assert(coconut.fs.mkdir(coconut.fs.dirname(path)))
        if type(content) == "function" then content = content(ctx) end
        assert(coconut.fs.write(path, content))
      end
      if c.setup then
        local why = c.setup(ctx)
        if why then
          if c.teardown then c.teardown(ctx) end
          T.skip(why)
        end
      end
      local before = c.from_base and snapshot(dir .. "/results") or nil
      local cmd = expand(c.cmd, ctx)
      local ok, err = pcall(function()
        local rc, out = T.sh(cmd)
        local want = c.rc or 2
        if want == "nonzero" then
          T.ok(rc ~= 0 and rc < 128, "expected a non-zero exit (not a signal), got " .. tostring(rc) .. "\n" .. out)
        else
          T.eq(rc, want, "exit status of `" .. cmd .. "`; output:\n" .. out)
        end
        for _, frag in ipairs(type(c.expect) == "table" and c.expect or {c.expect}) do
          frag = expand(frag, ctx)
          T.ok(out:find(frag, 1, true), "output lacks '" .. frag .. "':\n" .. out)
        end
        if want == 2 then T.ok(not out:find("stack traceback", 1, true), "a user error printed a traceback:\n" .. out) end
        local left = leftovers(dir)
        for _, p in ipairs(leftovers(DATA)) do left[#left + 1] = p end
        T.eq(#left, 0, "files left behind: " .. table.concat(left, ", "))
        for _, p in ipairs(c.absent or (c.from_base and {} or {"{dir}/results"})) do
          p = expand(p, ctx)
          T.ok(not coconut.fs.exists(p), p .. " exists after a failed run")
        end
        if before then
          local after = snapshot(dir .. "/results")
          for rel, bytes in pairs(before) do
            local name = rel:match("[^/]*$")
            if name ~= ".lock" and not (c.resumes and name == "config.json") then
              T.ok(after[rel] == bytes, "the failed run changed " .. rel)
            end
          end
          for rel in pairs(after) do
            local name = rel:match("[^/]*$")
            T.ok(before[rel] or name == ".lock", "the failed run added " .. rel)
          end
        end
        if c.check then c.check(ctx, out) end
      end)
      if c.teardown then c.teardown(ctx) end
      if not ok then error(err, 0) end
      T.rmtree(dir)
    end)
  end
end

local failed = T.run()
T.rmtree(TMP)
os.exit(failed == 0 and 0 or 1)
