-- Argo CD health of a neon-checkpoints Checkpoint, from its phase and kstatus conditions.
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
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local phase = obj.status.phase
local ready = condition(obj, "Ready")
local stalled = condition(obj, "Stalled")
local reconciling = condition(obj, "Reconciling")
local stalledTrue = stalled ~= nil and stalled.status == "True"
local reconcilingTrue = reconciling ~= nil and reconciling.status == "True"

if phase == "Ready" then
  hs.status = "Healthy"
  hs.message = message(ready, "Snapshot ready")
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = message(ready, "Checkpoint failed")
elseif stalledTrue and not reconcilingTrue then
  -- Blocked (a missing Secret, say): the operator retries, but only a person can unblock it.
  hs.status = "Degraded"
  hs.message = stalled.reason .. ": " .. message(stalled, "blocked")
elseif stalledTrue then
  -- Late (an operation overdue, a run resumed after a restart): still under way.
  hs.status = "Progressing"
  hs.message = stalled.reason .. ": " .. message(stalled, "late")
else
  hs.status = "Progressing"
  hs.message = phase .. ": " .. message(ready, "in progress")
end
return hs
