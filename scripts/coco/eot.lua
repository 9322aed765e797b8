-- coco.eot — the learned <eot> policy (issue 16): labels for every thought,
-- the feature matrix, training the stop classifier (coconut.classifier, BCE on
-- the autograd core), its safetensors file, and the numbers that compare it
-- with the fixed policies. experiments/eot_classifier.lua drives it;
-- plugins/eot/learned.c reads the file.
--
-- Decisions. Generation asks the policy once per latent step: at decision n
-- (n = 0, 1, ..., the thoughts produced so far) it sees the hidden state that
-- would become thought n + 1 (n = 0: the state after the prompt). Stopping at
-- decision n means n thoughts. One generation with exactly K thoughts returns
-- the states of decisions 0..K-1 as its thoughts [K, d] (row n + 1 = decision
-- n); decision K needs no classifier (the cap stops there).
--
-- Labels of decisions n = 0..K-1 (1 = stop, 0 = continue): stop from a target
-- count k* on, label(n) = [n >= k*] (k* > K - 1: all continue; the cap stops).
--   steps    k* = the example's reasoning steps (#ex.steps; ProsQA: its hop count)
--   outcome  k* = the first k in 0..K whose forced <eot> after k thoughts
--            answers right. An example no k answers right is excluded
--            (never = "exclude", the default: no stop point is right, so its
--            states say nothing about when to stop) or labelled continue at
--            every decision (never = "continue").
--
-- Features of a decision: the hidden state h [d], then (with step) n.
-- File: see plugins/eot/learned.c (metadata format "coconut-eot-classifier").
local M = {}

M.FORMAT, M.VERSION = "coconut-eot-classifier", "1"
M.LABELS = {steps = true, outcome = true}
M.NEVER = {exclude = true, continue = true}

local function check_K(K)
  if math.type(K) ~= "integer" or K < 1 then error("coco.eot: K (thoughts per labelled example) must be an integer >= 1", 2) end
end

-- Labels [K] (decisions 0..K-1) for a stop from k_star on.
function M.stop_from(k_star, K)
  check_K(K)
  local y = {}
  for n = 0, K - 1 do y[n + 1] = n >= k_star and 1 or 0 end
  return y
end

-- steps: stop once the thought count reaches the example's reasoning steps.
function M.label_steps(hops, K)
  if math.type(hops) ~= "integer" or hops < 0 then error("coco.eot: hops must be an integer >= 0, got " .. tostring(hops), 2) end
  return M.stop_from(hops, K)
end

-- The first k (0-based) with correct[k + 1] true, or nil.
function M.first_right(correct)
  for i = 1, #correct do
    if correct[i] then return i - 1 end
  end
  return nil
end

-- outcome: correct[k + 1] = whether a forced <eot> after k thoughts answers
-- right, k = 0..K. Returns the labels, or nil when the example is excluded.
function M.label_outcome(correct, K, never)
  never = never or "exclude"
  if not M.NEVER[never] then error("coco.eot: never must be exclude or continue, got " .. tostring(never), 2) end
  if type(correct) ~= "table" or #correct ~= K + 1 then
    error(string.format("coco.eot: outcome labels need the correctness at k = 0..%d (%d values), got %s", K, K + 1,
      type(correct) == "table" and tostring(#correct) or type(correct)), 2)
  end
  local k = M.first_right(correct)
  if k == nil then
    if never == "exclude" then return nil end
    return M.stop_from(K, K) -- all continue
  end
  return M.stop_from(k, K)
end

-- One example's labels by mode: info = {hops =, correct = {k = 0..K}}.
function M.labels(mode, info, K, never)
  if mode == "steps" then return M.label_steps(info.hops, K) end
  if mode == "outcome" then return M.label_outcome(info.correct, K, never) end
  error("coco.eot: unknown label mode '" .. tostring(mode) .. "' (steps | outcome)", 2)
end

-- Features [sum of rows, d (+1)] from a list of thought tensors [k_i, d]
-- (row n + 1 of each is decision n), with the decision index n as a last
-- column when with_step. Returns X and the list of decision indices.
function M.features(thoughts, with_step)
  if #thoughts == 0 then error("coco.eot: no thoughts to build features from", 2) end
  local X = coconut.tensor.cat(thoughts, 1)
  local steps = {}
  for _, t in ipairs(thoughts) do
    for n = 0, #t - 1 do steps[#steps + 1] = n end
  end
  if with_step then
    local col = {}
    for i, n in ipairs(steps) do col[i] = {n} end
    X = coconut.tensor.cat({X, coconut.tensor.from(col)}, 2)
  end
  return X, steps
end

-- Balanced class weights: each class weighs half of the loss, w_c = N / (2 N_c).
function M.class_weights(y)
  local npos = 0
  for _, v in ipairs(y) do npos = npos + v end
  local n, nneg = #y, #y - npos
  if npos == 0 or nneg == 0 then
    error(string.format("coco.eot: all %d labelled decisions are '%s': nothing for a classifier to separate", n,
      npos == 0 and "continue" or "stop"), 0)
  end
  return n / (2 * npos), n / (2 * nneg)
end

-- Holdout split by example: a seeded shuffle of 1..n, the last round(n * share) held out.
function M.split(n, share, seed)
  local idx = {}
  for i = 1, n do idx[i] = i end
  coconut.rng(seed):shuffle(idx)
  local nh = math.floor(n * share + 0.5)
  if share > 0 and nh == 0 and n > 1 then nh = 1 end
  local train, held = {}, {}
  for i, v in ipairs(idx) do
    if i <= n - nh then train[#train + 1] = v else held[#held + 1] = v end
  end
  table.sort(train)
  table.sort(held)
  return train, held
end

local function sigmoid(x) return 1 / (1 + math.exp(-x)) end
M.sigmoid = sigmoid

-- Accuracy and balanced accuracy (mean of the two recalls) of P(stop) > threshold.
function M.accuracy(logits, y, threshold)
  threshold = threshold or 0.5
  local lg = type(logits) == "table" and logits or logits:totable()
  local ok, tp, tn, np, nn = 0, 0, 0, 0, 0
  for i, v in ipairs(y) do
    local pred = sigmoid(lg[i]) > threshold and 1 or 0
    if pred == v then ok = ok + 1 end
    if v == 1 then np = np + 1; tp = tp + pred else nn = nn + 1; tn = tn + (1 - pred) end
  end
  local bal = ((np > 0 and tp / np or 0) + (nn > 0 and tn / nn or 0)) / ((np > 0 and 1 or 0) + (nn > 0 and 1 or 0))
  return #y > 0 and ok / #y or 0, bal
end

-- The count a policy stops at from P(stop) of decisions 0..K-1: the first n
-- with p[n + 1] > threshold (n >= min), else K (the cap).
function M.stop_count(p, threshold, K, min)
  for n = min or 0, K - 1 do
    if p[n + 1] > threshold then return n end
  end
  return K
end

-- Trains a classifier on X [N, d_in] with labels y (full batch, AdamW).
-- opts: kind, hidden, steps, lr, weight_decay, seed, normalize (bool),
-- class_weight ("balanced" | "none"), held = {X =, y =} (optional, logged),
-- log_every (10), on_log(row). Returns the classifier and the log rows
-- {step, train_loss, holdout_loss, holdout_accuracy}.
function M.train(X, y, opts)
  local d_in = X:shape()[2]
  local clf = coconut.classifier.new{kind = opts.kind or "mlp", d_in = d_in, hidden = opts.hidden or 32, seed = opts.seed or 0,
                                     lr = opts.lr or 1e-2, weight_decay = opts.weight_decay or 0}
  if opts.normalize ~= false then clf:fit_normalization(X) end
  local w = {pos_weight = 1, neg_weight = 1}
  if (opts.class_weight or "balanced") == "balanced" then w.pos_weight, w.neg_weight = M.class_weights(y) end
  local log, every = {}, opts.log_every or 10
  local steps = opts.steps or 300
  local function record(s, loss)
    local r = {step = s, train_loss = loss}
    if opts.held and #opts.held.y > 0 then
      r.holdout_loss = clf:loss(opts.held.X, opts.held.y, w)
      r.holdout_accuracy = M.accuracy(clf:logits(opts.held.X), opts.held.y)
    end
    log[#log + 1] = r
    if opts.on_log then opts.on_log(r) end
  end
  for s = 1, steps do
    local loss = clf:step(X, y, w)
    if s == 1 or s % every == 0 then record(s - 1, loss) end
  end
  record(steps, clf:loss(X, y, w))
  return clf, log, w
end

-- Writes the classifier file (atomic). info: d (hidden-state width),
-- step_feature, normalize, max_thoughts, and any extra string-able fields
-- (label mode, source, held-out accuracy ...), stored as metadata too.
function M.save(path, clf, info)
  local c = clf:config()
  local meta = {format = M.FORMAT, version = M.VERSION, kind = c.kind, d = tostring(info.d),
                step_feature = info.step_feature and "true" or "false", normalize = info.normalize == false and "none" or "standard"}
  if c.d_in ~= info.d + (info.step_feature and 1 or 0) then
    error(string.format("coco.eot.save: the classifier has %d inputs, but d = %d%s", c.d_in, info.d,
      info.step_feature and " + the step feature" or ""), 2)
  end
  if c.kind == "mlp" then meta.hidden, meta.activation = tostring(c.hidden), "gelu_tanh" end
  if info.max_thoughts then meta.max_thoughts = tostring(info.max_thoughts) end
  for k, v in pairs(info.extra or {}) do
    if meta[k] == nil then meta[k] = tostring(v) end
  end
  local ok, err = coconut.safetensors.save(path, clf:params(), meta)
  if not ok then error(err, 0) end
  return meta
end

-- ------------------------------------------------------------------ comparison with the fixed curve

-- curve: {{thoughts =, accuracy =}, ...} of the fixed policies in k order.
-- Accuracy of the fixed curve at `thoughts` (piecewise linear between
-- consecutive k; nil outside the curve's range).
function M.fixed_accuracy_at(curve, thoughts)
  for i = 1, #curve - 1 do
    local a, b = curve[i], curve[i + 1]
    if thoughts >= a.thoughts and thoughts <= b.thoughts then
      if b.thoughts == a.thoughts then return math.max(a.accuracy, b.accuracy) end
      local t = (thoughts - a.thoughts) / (b.thoughts - a.thoughts)
      return a.accuracy + t * (b.accuracy - a.accuracy)
    end
  end
  if #curve == 1 and curve[1].thoughts == thoughts then return curve[1].accuracy end
  return nil
end

-- The fewest mean thoughts at which the fixed curve (piecewise linear) first
-- reaches `accuracy`; nil when it never does.
function M.fixed_thoughts_for(curve, accuracy)
  if #curve > 0 and curve[1].accuracy >= accuracy then return curve[1].thoughts end
  for i = 1, #curve - 1 do
    local a, b = curve[i], curve[i + 1]
    if a.accuracy < accuracy and b.accuracy >= accuracy then
      return a.thoughts + (accuracy - a.accuracy) / (b.accuracy - a.accuracy) * (b.thoughts - a.thoughts)
    end
  end
  return nil
end

-- Pearson correlation of two equal-length lists (nil when either is constant).
function M.correlation(a, b)
  local n = #a
  if n < 2 then return nil end
  local ma, mb = 0, 0
  for i = 1, n do ma, mb = ma + a[i], mb + b[i] end
  ma, mb = ma / n, mb / n
  local sab, saa, sbb = 0, 0, 0
  for i = 1, n do
    local x, y = a[i] - ma, b[i] - mb
    sab, saa, sbb = sab + x * y, saa + x * x, sbb + y * y
  end
  if saa == 0 or sbb == 0 then return nil end
  return sab / math.sqrt(saa * sbb)
end

-- Per-hop means of a policy's per-example rows {hops =, thoughts =, correct =}:
-- a list {hops, n, accuracy, thoughts} in hop order.
function M.by_hops(rows)
  local g, keys = {}, {}
  for _, r in ipairs(rows) do
    local x = g[r.hops]
    if not x then x = {hops = r.hops, n = 0, ok = 0, th = 0}; g[r.hops] = x; keys[#keys + 1] = r.hops end
    x.n, x.ok, x.th = x.n + 1, x.ok + (r.correct and 1 or 0), x.th + r.thoughts
  end
  table.sort(keys)
  local out = {}
  for _, h in ipairs(keys) do
    local x = g[h]
    out[#out + 1] = {hops = h, n = x.n, accuracy = x.ok / x.n, thoughts = x.th / x.n}
  end
  return out
end

return M
