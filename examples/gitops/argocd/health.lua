-- Argo CD health of the Modelyard kinds (Model, ModelVersion, ConversionJob, EvaluationJob).
-- Healthy: Ready and the status is about the current generation. Degraded: Stalled, Failed,
-- or an evaluation whose gates failed. Progressing: anything still under way.
local hs = {}
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local conditions = {}
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    conditions[condition.type] = condition
  end
end
local function holds(name)
  return conditions[name] ~= nil and conditions[name].status == "True"
end
local function message(name)
  if conditions[name] ~= nil and conditions[name].message ~= nil then
    return conditions[name].message
  end
  return status.message or ""
end
if holds("Stalled") or status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = message("Stalled")
  return hs
end
if obj.kind == "EvaluationJob" and status.phase == "Succeeded" and status.passed == false then
  hs.status = "Degraded"
  hs.message = "Gates failed: " .. message("Ready")
  return hs
end
if holds("Ready") then
  hs.status = "Healthy"
  hs.message = message("Ready")
  return hs
end
hs.status = "Progressing"
hs.message = message(holds("Reconciling") and "Reconciling" or "Ready")
return hs
