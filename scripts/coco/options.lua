-- coco.options — named experiment options with types, defaults, docs and presets;
-- command-line overrides (--name value, --name=value, --flag / --no-flag).
--
--   local O = require "coco.options"
--   local spec = O.spec{ {"lr", "number", 1e-4, "learning rate"}, ... }
--   local opts = O.parse(spec, presets, arg)   -- arg: the script's arg table
--
-- Order: spec defaults < preset (--preset NAME, or the "default_preset") <
-- command line. An unknown option, a bad value or an unknown preset raises an
-- error that names it and lists the valid ones. `--help` prints every option
-- (with the chosen preset's values) and exits.
local O = {}

local TYPES = {int = true, number = true, bool = true, string = true}

-- entries: { {name, type, default, doc}, ... } in display order
function O.spec(entries)
  local s = {order = {}, by = {}}
  for _, e in ipairs(entries) do
    local name, ty, def, doc = e[1], e[2], e[3], e[4]
    assert(TYPES[ty], "option " .. tostring(name) .. ": bad type " .. tostring(ty))
    assert(not s.by[name], "option " .. name .. " declared twice")
    s.by[name] = {name = name, type = ty, default = def, doc = doc or ""}
    s.order[#s.order + 1] = name
  end
  return s
end

local function valid_list(spec)
  return table.concat(spec.order, ", ")
end

-- Converts text (from the command line) or a Lua value to the option's type.
function O.coerce(spec, name, v, where)
  local e = spec.by[name]
  if not e then
    error(string.format("%sunknown option '%s'; valid options: %s", where or "", name, valid_list(spec)), 0)
  end
  local function bad(what)
    error(string.format("%soption '%s': %s is not %s", where or "", name, tostring(v), what), 0)
  end
  if e.type == "string" then
    if type(v) ~= "string" and type(v) ~= "number" then bad("a string") end
    return tostring(v)
  elseif e.type == "bool" then
    if type(v) == "boolean" then return v end
    local t = tostring(v):lower()
    if t == "true" or t == "1" or t == "yes" then return true end
    if t == "false" or t == "0" or t == "no" then return false end
    bad("a boolean (true/false)")
  elseif e.type == "int" then
    local n = math.tointeger(tonumber(v))
    if not n then bad("an integer") end
    return n
  else
    local n = tonumber(v)
    if not n or n ~= n then bad("a number") end
    return n
  end
end

local function usage(spec, presets, chosen, values)
  local lines = {"options (defaults of preset '" .. tostring(chosen) .. "'):"}
  for _, name in ipairs(spec.order) do
    local e = spec.by[name]
    lines[#lines + 1] = string.format("  --%-22s %-7s %-14s %s", name, e.type, tostring(values[name]), e.doc)
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
        if neg and spec.by[neg] and spec.by[neg].type == "bool" then
          name, val = neg, "false"
        elseif spec.by[name] and spec.by[name].type == "bool" and (argv[i + 1] == nil or argv[i + 1]:sub(1, 2) == "--") then
          val = "true"
        else
          val = argv[i + 1]
          if val == nil then error(where .. "option --" .. name .. " needs a value", 0) end
          i = i + 1
        end
      end
      name = name:gsub("%-", "_")
      cli[#cli + 1] = {name, val}
    else
      error(where .. "unexpected argument '" .. a .. "' (options look like --name value)", 0)
    end
    i = i + 1
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
      error(string.format("%sunknown preset '%s'; presets: %s", where, chosen, table.concat(names, ", ")), 0)
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
