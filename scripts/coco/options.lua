-- coco.options — named experiment options with types, defaults, docs, valid
-- values and presets; command-line overrides (--name value, --name=value,
-- --flag / --no-flag).
--
--   local O = require "coco.options"
--   local spec = O.spec{ {"lr", "number", 1e-4, "learning rate", "(0, inf)"}, ... }
--   local opts = O.parse(spec, presets, arg)   -- arg: the script's arg table
--
-- Entries: {name, type, default, doc [, valid]}. The fifth field (optional;
-- also accepted as a named field `valid = ...`) says which values are valid:
--   int / number  an interval "[lo, hi]", with ( or ) for an open end and
--                 inf / -inf for no bound: "[1, inf)", "(0, inf)", "[0, 1]";
--   string        a list of the accepted words: {"words", "symbolic"}.
-- An entry without it accepts any value of its type (the format of the
-- entries before ranges existed keeps working). Defaults are checked against
-- it when the spec is built (a bad default is a bug of the script).
--
-- Order: spec defaults < preset (--preset NAME, or the "default_preset") <
-- command line. Preset values are checked like command-line ones.
--
-- Mistakes of the user (an unknown option or preset, a value of the wrong type
-- or outside its range, a word not in the list) raise coconut.user_error: one
-- line naming the option and what is valid, with "did you mean --x?" when a
-- valid name is close (coconut.suggest), which `coconut run` prints without a
-- traceback (exit status 2). `--help` prints every option (with the chosen
-- preset's values and the valid ranges) and exits.
local O = {}

local TYPES = {int = true, number = true, bool = true, string = true}

local function user_error(fmt, ...) coconut.user_error(string.format(fmt, ...)) end

-- " (did you mean --x?)" for options (prefix "--"), " (did you mean 'x'?)"
-- for other names (prefix nil), or "" when no valid name is close.
function O.hint(word, names, prefix)
  local near = coconut.suggest(tostring(word), names)
  if not near then return "" end
  if prefix then return string.format(" (did you mean %s%s?)", prefix, near) end
  return string.format(" (did you mean '%s'?)", near)
end

local function parse_bound(s, what)
  s = s:match("^%s*(.-)%s*$")
  if s == "inf" or s == "+inf" then return math.huge end
  if s == "-inf" then return -math.huge end
  local n = tonumber(s)
  assert(n, what .. ": bad bound '" .. s .. "'")
  return n
end

-- "[1, inf)" -> {lo = 1, hi = inf, lo_open = false, hi_open = true, text = "[1, inf)"}
local function parse_range(text, what)
  local a, lo, hi, b = tostring(text):match("^%s*([%[%(])(.-),(.-)([%]%)])%s*$")
  assert(a, what .. ": range '" .. tostring(text) .. "' is not an interval like [0, 1] or (0, inf)")
  local r = {lo = parse_bound(lo, what), hi = parse_bound(hi, what), lo_open = a == "(", hi_open = b == ")", text = text}
  assert(r.lo <= r.hi, what .. ": empty range " .. text)
  return r
end

local function in_range(r, v)
  if r.lo_open and not (v > r.lo) then return false end
  if not r.lo_open and not (v >= r.lo) then return false end
  if r.hi_open and not (v < r.hi) then return false end
  if not r.hi_open and not (v <= r.hi) then return false end
  return true
end

-- entries: { {name, type, default, doc [, valid]}, ... } in display order
function O.spec(entries)
  local s = {order = {}, by = {}}
  for _, e in ipairs(entries) do
    local name, ty, def, doc = e[1], e[2], e[3], e[4]
    local valid = e[5]
    if valid == nil then valid = e.valid end
    assert(TYPES[ty], "option " .. tostring(name) .. ": bad type " .. tostring(ty))
    assert(not s.by[name], "option " .. name .. " declared twice")
    local x = {name = name, type = ty, default = def, doc = doc or "", valid = valid}
    if valid ~= nil then
      local what = "option " .. name
      if ty == "int" or ty == "number" then
        assert(type(valid) == "string", what .. ": the range of a numeric option is a string like \"[0, 1]\"")
        x.range = parse_range(valid, what)
      elseif ty == "string" then
        assert(type(valid) == "table" and #valid > 0, what .. ": the valid values of a string option are a list of words")
        x.choices = valid
      else
        error(what .. ": a bool option takes no valid-values field", 2)
      end
    end
    s.by[name] = x
    s.order[#s.order + 1] = name
    -- a default outside its own range is a bug of the script, not the user's
    if def ~= nil and x.range then
      assert(type(def) == "number" and in_range(x.range, def),
        string.format("option %s: default %s is outside its range %s", name, tostring(def), x.range.text))
    end
    if def ~= nil and x.choices then
      local ok = false
      for _, c in ipairs(x.choices) do ok = ok or c == def end
      assert(ok, string.format("option %s: default '%s' is not one of its values", name, tostring(def)))
    end
  end
  return s
end

-- The fifth field of an entry as given (for scripts that rebuild entries from
-- a spec, e.g. experiments/prosqa_analysis.lua).
function O.entry(spec, name)
  local e = spec.by[name]
  return {e.name, e.type, e.default, e.doc, e.valid}
end

local function range_words(r)
  -- "[1, inf)" reads as "an integer >= 1" in messages too
  local parts = {}
  if r.lo > -math.huge then parts[#parts + 1] = (r.lo_open and "> " or ">= ") .. tostring(r.lo) end
  if r.hi < math.huge then parts[#parts + 1] = (r.hi_open and "< " or "<= ") .. tostring(r.hi) end
  return table.concat(parts, " and ")
end

-- Converts text (from the command line) or a Lua value to the option's type
-- and checks it against the option's valid values.
function O.coerce(spec, name, v, where)
  where = where or ""
  local e = spec.by[name]
  if not e then
    user_error("%sunknown option --%s%s; --help lists the options", where, name, O.hint(name, spec.order, "--"))
  end
  local function bad(what)
    user_error("%soption --%s: '%s' is not %s", where, name, tostring(v), what)
  end
  local x
  if e.type == "string" then
    if type(v) ~= "string" and type(v) ~= "number" then bad("a string") end
    x = tostring(v)
    if e.choices then
      local ok = false
      for _, c in ipairs(e.choices) do ok = ok or c == x end
      if not ok then
        user_error("%soption --%s: '%s' is not one of %s%s", where, name, x, table.concat(e.choices, ", "),
          O.hint(x, e.choices))
      end
    end
    return x
  elseif e.type == "bool" then
    if type(v) == "boolean" then return v end
    local t = tostring(v):lower()
    if t == "true" or t == "1" or t == "yes" then return true end
    if t == "false" or t == "0" or t == "no" then return false end
    bad("a boolean (true/false)")
  elseif e.type == "int" then
    x = math.tointeger(tonumber(v))
    if not x then bad("an integer") end
  else
    x = tonumber(v)
    if not x or x ~= x then bad("a number") end
  end
  if e.range and not in_range(e.range, x) then
    user_error("%soption --%s: %s is outside its range %s (%s %s)", where, name, tostring(v), e.range.text,
      e.type == "int" and "an integer" or "a number", range_words(e.range))
  end
  return x
end

local function usage(spec, presets, chosen, values)
  local lines = {"options (defaults of preset '" .. tostring(chosen) .. "'):"}
  for _, name in ipairs(spec.order) do
    local e = spec.by[name]
    local doc = e.doc
    if e.range then doc = doc .. " " .. e.range.text end
    lines[#lines + 1] = string.format("  --%-22s %-7s %-14s %s", name, e.type, tostring(values[name]), doc)
  end
  if presets then
    local names = {}
    for k in pairs(presets) do if k ~= "default_preset" then names[#names + 1] = k end end
    table.sort(names)
    lines[#lines + 1] = "presets: " .. table.concat(names, ", ")
  end
  return table.concat(lines, "\n")
end

-- presets: { name = {option = value, ...}, default_preset = "small" }
function O.parse(spec, presets, argv, where)
  where = where or ""
  argv = argv or {}
  local cli, help = {}, false
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      help = true
    elseif a:sub(1, 2) == "--" then
      local name, val = a:match("^%-%-([%w_%-]+)=(.*)$")
      if not name then
        name = a:sub(3)
        local neg = name:match("^no%-(.+)$") or name:match("^no_(.+)$")
        if neg then neg = neg:gsub("%-", "_") end
        local plain = name:gsub("%-", "_")
        if neg and spec.by[neg] and spec.by[neg].type == "bool" then
          name, val = neg, "false"
        elseif spec.by[plain] and spec.by[plain].type == "bool" and (argv[i + 1] == nil or argv[i + 1]:sub(1, 2) == "--") then
          val = "true"
        elseif not spec.by[plain] then
          -- an unknown name is reported as such, not as a value-less option
          -- (its would-be value could be the next option)
          val = argv[i + 1] ~= nil and argv[i + 1]:sub(1, 2) ~= "--" and argv[i + 1] or ""
          if argv[i + 1] ~= nil and argv[i + 1]:sub(1, 2) ~= "--" then i = i + 1 end
        else
          val = argv[i + 1]
          if val == nil then user_error("%soption --%s needs a value", where, plain) end
          i = i + 1
        end
      end
      name = name:gsub("%-", "_")
      cli[#cli + 1] = {name, val}
    else
      user_error("%sunexpected argument '%s' (options look like --name value; --help lists them)", where, a)
    end
    i = i + 1
  end
  -- unknown names first: a typo is the likeliest mistake and the clearest message
  for _, kv in ipairs(cli) do
    if not spec.by[kv[1]] then O.coerce(spec, kv[1], kv[2], where) end
  end
  -- preset first
  local chosen = presets and presets.default_preset
  for _, kv in ipairs(cli) do if kv[1] == "preset" then chosen = kv[2] end end
  local values = {}
  for _, name in ipairs(spec.order) do values[name] = spec.by[name].default end
  if chosen and presets then
    local p = presets[chosen]
    if not p then
      local names = {}
      for k in pairs(presets) do if k ~= "default_preset" then names[#names + 1] = k end end
      table.sort(names)
      user_error("%sunknown preset '%s'%s; presets: %s", where, chosen, O.hint(chosen, names), table.concat(names, ", "))
    end
    for k, v in pairs(p) do values[k] = O.coerce(spec, k, v, where .. "preset '" .. chosen .. "': ") end
  end
  if spec.by.preset then values.preset = chosen end
  for _, kv in ipairs(cli) do
    if kv[1] ~= "preset" then values[kv[1]] = O.coerce(spec, kv[1], kv[2], where) end
  end
  if help then
    print(usage(spec, presets, chosen, values))
    os.exit(0)
  end
  return values
end

-- Resolved options as a plain table in declaration order (for config.json).
function O.resolved(spec, values)
  local t = coconut.json.object()
  for _, name in ipairs(spec.order) do
    if values[name] ~= nil then t[name] = values[name] end
  end
  return t
end

return O
