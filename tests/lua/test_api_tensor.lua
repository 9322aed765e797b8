-- Tensors: construction, inspection, errors.
local T = require "tap"
local tensor = coconut.tensor

T.test("tensor.zeros / shape / numel / dtype", function()
  local t = tensor.zeros({2, 3})
  T.eq(#t:shape(), 2); T.eq(t:shape()[2], 3); T.eq(t:numel(), 6); T.eq(t:dtype(), "f32")
  T.eq(t:sum(), 0)
  local i = tensor.zeros({4}, "i32")
  T.eq(i:dtype(), "i32")
  T.eq(tostring(t), "coconut.Tensor [2,3] f32")
end)

T.test("tensor.randn is deterministic in the seed", function()
  local a, b, c = tensor.randn({50}, 7), tensor.randn({50}, 7), tensor.randn({50}, 8)
  T.eq(a:get(13), b:get(13)); T.ok(a:get(13) ~= c:get(13))
  local s = tensor.randn({4000}, 1, 2.0)
  T.near(s:mean(), 0, 0.15); T.near(s:norm() / math.sqrt(4000), 2.0, 0.15)
end)

T.test("tensor.from nested tables, totable, item, get/set", function()
  local t = tensor.from({{1, 2, 3}, {4, 5, 6}})
  T.eq(t:get(2, 3), 6.0)
  t:set(9, 1, 1)
  T.eq(t:totable()[1][1], 9.0)
  T.eq(tensor.from({{7}}):item(), 7.0)
  local i = tensor.from({1, 2, 3}, "i32")
  T.eq(math.type(i:get(2)), "integer")
  T.raises(function() t:item() end, "item: tensor [2,3] f32 has 6 elements, not 1")
  T.raises(function() t:get(3, 1) end, "index 3 is outside 1..2 at dimension 1")
  T.raises(function() tensor.from({{1, 2}, {3}}) end, "row lengths disagree")
  T.raises(function() tensor.from({1, "x"}) end, "element 2 is a string, not a number")
  T.raises(function() tensor.from({1.5}, "i32") end, "is not a 32-bit integer")
end)

T.test("matmul through BLIS equals the naive product", function()
  local a, b = tensor.randn({5, 7}, 1), tensor.randn({7, 3}, 2)
  local c = a:matmul(b)
  T.eq(c:shape()[1], 5); T.eq(c:shape()[2], 3)
  for i = 1, 5 do for j = 1, 3 do
    local s = 0
    for k = 1, 7 do s = s + a:get(i, k) * b:get(k, j) end
    T.near(c:get(i, j), s, 1e-4)
  end end
  T.raises(function() a:matmul(a) end, "matmul: cannot multiply [5,7] f32 by [5,7] f32")
end)

T.test("vector helpers: dot, cosine, norm, argmax, row", function()
  local a = tensor.from({3, 4})
  T.near(a:norm(), 5, 1e-6); T.near(a:dot(a), 25, 1e-6); T.near(a:cosine(a), 1, 1e-6)
  local idx, v = tensor.from({1, 9, 3}):argmax()
  T.eq(idx, 2); T.eq(v, 9.0)
  T.eq(tensor.from({{1, 2}, {3, 4}}):row(2):get(1), 3.0)
end)

T.test("closed tensors refuse use", function()
  local t = tensor.zeros({2})
  t:close()
  T.raises(function() t:numel() end, "tensor was closed")
  do local u <close> = tensor.zeros({1}) end
end)

T.test("matmul with u transposed, log_softmax and topk (the probes' LM-head helpers)", function()
  local a, w = tensor.randn({3, 5}, 11), tensor.randn({4, 5}, 12) -- w [N, K] as the token embedding [V, d]
  local c = a:matmul(w, true)
  T.eq(c:shape()[1], 3); T.eq(c:shape()[2], 4)
  for i = 1, 3 do for j = 1, 4 do
    local s = 0
    for k = 1, 5 do s = s + a:get(i, k) * w:get(j, k) end
    T.near(c:get(i, j), s, 1e-4, string.format("(%d,%d)", i, j))
  end end
  local v = a:row(1):matmul(w, true) -- a 1-D vector times w^T
  T.eq(#v:shape(), 1); T.near(v:get(4), c:get(1, 4), 1e-5)
  T.raises(function() a:matmul(tensor.randn({4, 6}, 1), true) end, "by [4,6] f32 transposed")
  -- log_softmax: rows sum to one in probability, differences of logits kept
  local l = tensor.from({{1, 2, 3}, {1000, 1000, 1000}})
  local ls = l:log_softmax()
  local z = math.log(math.exp(1) + math.exp(2) + math.exp(3))
  T.near(ls:get(1, 3), 3 - z, 1e-6); T.near(ls:get(1, 1), 1 - z, 1e-6)
  T.near(ls:get(2, 2), -math.log(3), 1e-6, "large logits do not overflow")
  -- topk: largest first, ties to the lower index, per row for 2-D, k capped at the size
  local idx, val = tensor.from({0.5, 3, 3, -1, 2}):topk(3)
  T.eq(#idx, 3); T.eq(idx[1], 2); T.eq(idx[2], 3); T.eq(idx[3], 5); T.eq(val[3], 2.0)
  idx, val = tensor.from({{1, 9, 5}, {7, 0, 8}}):topk(5)
  T.eq(#idx, 2); T.eq(#idx[1], 3)
  T.eq(table.concat(idx[1], ","), "2,3,1"); T.eq(table.concat(idx[2], ","), "3,1,2"); T.eq(val[2][1], 8.0)
  T.raises(function() l:topk(0) end, "k must be >= 1")
end)
