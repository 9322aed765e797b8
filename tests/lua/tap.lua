-- tap.lua — a minimal TAP producer for the Lua suite (counted by tests/run_tests.sh).
--   local T = require "tap"   -- (tests/lua is put on package.path by all.lua)
--   T.test("name", function() T.eq(a, b) ... end)
-- A test fails when its function raises; T.* assertions raise with a message
-- naming the expected and actual values. T.skip(reason) marks it skipped.
local T = {results = {}, current = nil}

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function T.test(name, fn) T.results[#T.results + 1] = {name = name, fn = fn} end

function T.ok(cond, msg) if not cond then error(msg or "assertion failed", 2) end end
function T.eq(a, b, msg)
  if a ~= b then error((msg and msg .. ": " or "") .. "expected " .. fmt(b) .. ", got " .. fmt(a), 2) end
end
function T.near(a, b, tol, msg)
  if not (math.abs(a - b) <= tol) then
    error((msg and msg .. ": " or "") .. string.format("expected %.9g within %g, got %.9g", b, tol, a), 2)
  end
end
-- fn must raise an error whose message contains `pattern` (plain text).
function T.raises(fn, pattern, msg)
  local ok, err = pcall(fn)
  if ok then error((msg and msg .. ": " or "") .. "expected an error containing " .. fmt(pattern), 2) end
  err = tostring(err)
  if pattern and not err:find(pattern, 1, true) then
    error((msg and msg .. ": " or "") .. "error " .. fmt(err) .. " does not contain " .. fmt(pattern), 2)
  end
  return err
end
function T.skip(reason) error({skip = reason}, 2) end

function T.run()
  print("1.." .. #T.results)
  local failed = 0
  for i, t in ipairs(T.results) do
    local ok, err = xpcall(t.fn, function(e)
      if type(e) == "table" and e.skip then return e end
      return debug.traceback(tostring(e), 2)
    end)
    if ok then
      print("ok " .. i .. " - " .. t.name)
    elseif type(err) == "table" and err.skip then
      print("ok " .. i .. " - " .. t.name .. " # SKIP " .. err.skip)
    else
      failed = failed + 1
      print("not ok " .. i .. " - " .. t.name)
      for line in tostring(err):gmatch("[^\n]+") do print("# " .. line) end
    end
    collectgarbage()
  end
  return failed
end

-- Helpers shared by the test files.
T.tmp = os.getenv("TMPDIR") or "/tmp"
function T.tmpdir(tag)
  local d = string.format("%s/coconut_lua_%s_%d_%d", T.tmp, tag, os.time(), math.random(1, 1e9))
  assert(coconut.fs.mkdir(d))
  return d
end
function T.rmtree(d)
  os.execute("rm -rf '" .. d:gsub("'", "'\\''") .. "'")
end
function T.shared(sub)
  local base = os.getenv("COCONUT_SHARED_DATA") or "../shared/data"
  local p = base .. "/" .. sub
  if coconut.fs.exists(p) then return p end
  return nil
end
-- Runs `build/coconut <args>`; returns exit status, stdout+stderr.
function T.sh(cmd)
  local f = io.popen(cmd .. " 2>&1; echo \"__rc=$?\"")
  local out = f:read("a")
  f:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return rc, out:gsub("__rc=%d+%s*$", "")
end

return T
