return {kind = "probe", name = "broken",
  create = function(opts) return {} end
  columns = function() return {} end}
