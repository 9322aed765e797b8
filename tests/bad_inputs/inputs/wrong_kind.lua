return {kind = "eot", name = "wrong_kind", create = function() return {} end}
