-- Argo CD health of a neon-checkpoints CheckpointRestore (one-shot), from its phase and kstatus conditions.
local hs = {}

local function condition(obj, kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

if obj.status == nil or obj.status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end

local phase = obj.status.phase
local succeeded = condition(obj, "Succeeded")
local stalled = condition(obj, "Stalled")
local reconciling = condition(obj, "Reconciling")
local stalledTrue = stalled ~= nil and stalled.status == "True"
local reconcilingTrue = reconciling ~= nil and reconciling.status == "True"

if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = message(succeeded, "Restore succeeded")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = message(succeeded, "Restore failed")
elseif stalledTrue and not reconcilingTrue then
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. message(stalled, "blocked")
elseif stalledTrue then
  hs.status = "Progressing"
  hs.message = stalled.reason .. ": " .. message(stalled, "late")
else
  hs.status = "Progressing"
  hs.message = phase .. ": " .. message(succeeded, "in progress")
end
return hs
