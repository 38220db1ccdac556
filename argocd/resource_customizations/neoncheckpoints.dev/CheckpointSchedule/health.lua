-- Argo CD health of a neon-checkpoints CheckpointSchedule: Suspended when spec.suspend, else from its
-- Ready and Stalled conditions (written after every pass of the schedule).
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

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended: no new runs"
  return hs
end
local ready = condition(obj, "Ready")
local stalled = condition(obj, "Stalled")
if ready == nil then
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
if (stalled ~= nil and stalled.status == "True") or ready.status == "False" then
  hs.status = "Degraded"
  hs.message = (ready.reason or "NotReady") .. ": " .. (ready.message or "")
  return hs
end
hs.status = "Healthy"
hs.message = ready.message or "Scheduled"
return hs
