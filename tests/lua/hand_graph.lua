-- hand_graph.lua — the hand-made ProsQA example the Lua tests share (Tom
-- reaches rompus in 3 steps; root Tom = 1, target rompus = 4, negative lempus =
-- 5): the official JSON form, one example, for the prosqa dataset plugin.
local H = {}

H.JSON = [==[
[{"question": "Sam is a lempus. Every yumpus is a rompus. Tom is a gorpus. Every wumpus is a yumpus. Tom is a wumpus. Every gorpus is a yumpus. Tom is a zumpus. Is Tom a lempus or rompus?", "answer": "Tom is a rompus.", "steps": ["Tom is a wumpus.", "Every wumpus is a yumpus.", "Every yumpus is a rompus."], "idx_to_symbol": ["Sam", "Tom", "wumpus", "yumpus", "rompus", "lempus", "gorpus", "zumpus"], "edges": [[1, 2], [1, 6], [2, 3], [6, 3], [3, 4], [0, 5], [1, 7]], "root": 1, "target": 4, "neg_target": 5}]
]==]

-- The example loaded through the prosqa dataset plugin in a rendering
-- ("words" or "symbolic"), from a temporary file (T: the tap module).
function H.load(T, style)
  local d = T.tmpdir("hand")
  local f = assert(io.open(d .. "/hand.json", "wb"))
  f:write(H.JSON)
  f:close()
  local ds = coconut.plugin.load("dataset", "prosqa", {valid_file = d .. "/hand.json", generate = false, dir = d,
                                                       format = style})
  local ex = ds:load("valid")[1]
  T.rmtree(d)
  return ex
end

return H
