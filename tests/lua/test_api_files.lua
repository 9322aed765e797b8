-- safetensors, CSV, gnuplot, JSON and fs from Lua.
local T = require "tap"

T.test("safetensors save/load round trip with metadata", function()
  local d = T.tmpdir("st")
  local a, b = coconut.tensor.randn({3, 4}, 1), coconut.tensor.from({1, 2, 3}, "i32")
  T.ok(coconut.safetensors.save(d .. "/x.safetensors", {a = a, ids = b}, {note = "hello", n = 3}))
  local t, meta = coconut.safetensors.load(d .. "/x.safetensors")
  T.eq(t.a:get(2, 3), a:get(2, 3)); T.eq(t.ids:dtype(), "i32"); T.eq(t.ids:get(3), 3)
  T.eq(meta.note, "hello"); T.eq(meta.n, "3")
  local r, msg = coconut.safetensors.load(d .. "/none.safetensors")
  T.eq(r, nil); T.ok(msg:find("cannot open", 1, true))
  T.rmtree(d)
end)

T.test("csv round trip: keyed and positional rows, tricky fields", function()
  local d = T.tmpdir("csv")
  local p = d .. "/t.csv"
  local w = assert(coconut.csv.open(p, {"id", "text", "x"}))
  w:row{id = 1, text = 'a, "b"\nc', x = 0.5}
  w:row{2, "plain", 1e-9}
  w:row{id = 3}
  T.eq(coconut.fs.exists(p), false, "nothing visible before close")
  T.ok(w:close())
  local rows, cols = assert(coconut.csv.read(p))
  T.eq(#rows, 3); T.eq(cols[2], "text")
  T.eq(rows[1].text, 'a, "b"\nc'); T.eq(rows[1].x, "0.5"); T.eq(rows[2].x, "1e-09"); T.eq(rows[3].text, "")
  local w2 = assert(coconut.csv.open(d .. "/other.csv", {"id", "text", "x"}))
  T.raises(function() w2:row{id = 1, txt = "typo"} end, "csv row: 'txt' is not a column of this file")
  T.raises(function() w2:row{1, 2} end, "csv row: 2 values for 3 columns")
  w2:close()
  -- append mode keeps rows and checks the header
  local a = assert(coconut.csv.open(p, {"id", "text", "x"}, {append = true}))
  a:row{id = 4, text = "more", x = 2}; a:close()
  T.eq(#assert(coconut.csv.read(p)), 4)
  local bad, msg = coconut.csv.open(p, {"id", "other"}, {append = true})
  T.eq(bad, nil); T.ok(msg:find("t.csv", 1, true), msg)
  local r, m2 = coconut.csv.read(d .. "/absent.csv")
  T.eq(r, nil); T.ok(m2:find("absent.csv", 1, true))
  T.rmtree(d)
end)

T.test("plot renders non-empty PNG and SVG from a .gp script; errors raise", function()
  local d = T.tmpdir("plot")
  local w = assert(coconut.csv.open(d .. "/m.csv", {"step", "loss"}))
  for i = 1, 20 do w:row{step = i, loss = 1 / i} end
  w:close()
  assert(coconut.fs.write(d .. "/fig.gp", [[
set datafile separator comma
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 640,400 } else { set terminal png size 640,400 }
set output ARG2
plot ARG1 using "step":"loss" with lines title "loss"
set terminal svg size 640,400
set output ARG3
replot
unset output
]]))
  T.ok(coconut.plot(d .. "/fig.gp", {d .. "/m.csv", d .. "/fig.png", d .. "/fig.svg"}))
  local png = assert(coconut.fs.read(d .. "/fig.png"))
  T.ok(#png > 1000); T.eq(png:sub(2, 4), "PNG")
  local svg = assert(coconut.fs.read(d .. "/fig.svg"))
  T.ok(svg:find("<svg", 1, true))
  assert(coconut.fs.write(d .. "/bad.gp", "plot sin(x) witth lines\n"))
  T.raises(function() coconut.plot(d .. "/bad.gp") end, "bad.gp")
  T.rmtree(d)
end)

T.test("json encode/decode/read/write", function()
  local s = coconut.json.encode({b = {1, 2, 3}, a = "x", c = {y = true}, e = {}})
  T.eq(s, '{"a":"x","b":[1,2,3],"c":{"y":true},"e":[]}')
  local v = coconut.json.decode('{"k": [1, 2.5, null, "s"], "o": {}}')
  T.eq(v.k[2], 2.5); T.eq(v.k[3], coconut.json.null); T.eq(v.k[4], "s")
  T.eq(coconut.json.encode(v.o), "{}")
  local r, msg = coconut.json.decode("{bad")
  T.eq(r, nil); T.ok(msg:find("line 1", 1, true), msg)
  local d = T.tmpdir("json")
  T.ok(coconut.json.write(d .. "/c.json", {lr = 1e-4, n = 3}))
  T.eq(coconut.json.read(d .. "/c.json").lr, 1e-4)
  r, msg = coconut.json.read(d .. "/missing.json")
  T.eq(r, nil); T.ok(msg:find("missing.json", 1, true))
  T.raises(function() coconut.json.encode({x = 0/0}) end, "cannot be represented in JSON")
  T.rmtree(d)
end)

T.test("fs helpers and rng", function()
  local d = T.tmpdir("fs")
  T.ok(coconut.fs.mkdir(d .. "/a/b/c")); T.ok(coconut.fs.isdir(d .. "/a/b/c"))
  T.ok(coconut.fs.write(d .. "/a/f.txt", "hi")); T.eq(coconut.fs.read(d .. "/a/f.txt"), "hi")
  local l = coconut.fs.listdir(d .. "/a"); T.eq(l[1], "b"); T.eq(l[2], "f.txt")
  T.eq(coconut.fs.basename("/x/y/z.csv"), "z.csv"); T.eq(coconut.fs.dirname("/x/y/z.csv"), "/x/y")
  T.rmtree(d)
  local r1, r2 = coconut.rng(5), coconut.rng(5)
  T.eq(r1:uniform(), r2:uniform())
  local t1 = r1:shuffle({1, 2, 3, 4, 5, 6, 7, 8}); local t2 = r2:shuffle({1, 2, 3, 4, 5, 6, 7, 8})
  T.eq(table.concat(t1, ","), table.concat(t2, ","))
  local k = r1:int(3, 5); T.ok(k >= 3 and k <= 5)
end)
