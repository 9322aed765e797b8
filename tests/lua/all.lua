-- all.lua — the Lua test suite, in the spirit of Lua's own testes/all.lua:
-- every tests/lua/test_*.lua file registers tests; this driver runs them and
-- prints TAP. Run: build/coconut run tests/lua/all.lua [filter]
package.path = "tests/lua/?.lua;" .. package.path
local T = require "tap"
math.randomseed(os.time())
local filter = arg and arg[1]
local files = coconut.fs.listdir("tests/lua")
for _, f in ipairs(files) do
  if f:match("^test_.*%.lua$") and (not filter or f:find(filter, 1, true)) then
    dofile("tests/lua/" .. f)
  end
end
local failed = T.run()
os.exit(failed == 0 and 0 or 1)
