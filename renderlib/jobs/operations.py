"""The GraphQL documents the JobsClient sends, each selecting every field of its record."""

from renderlib.jobs.records import GenerationRun, Job, JobEvent, RenderChunk, RenderRun, selection

JOB = selection(Job)
JOB_EVENT = selection(JobEvent)
RENDER_RUN = selection(RenderRun)
GENERATION_RUN = selection(GenerationRun)
RENDER_CHUNK = selection(RenderChunk)

CREATE_JOB = f"""mutation CreateJob($input: CreateJobInput!) {{
  createJob(input: $input) {{ {JOB} }} }}"""
UPDATE_JOB = f"""mutation UpdateJob($input: UpdateJobInput!, $condition: ModelJobConditionInput) {{
  updateJob(input: $input, condition: $condition) {{ {JOB} }} }}"""
GET_JOB = f"query GetJob($id: ID!) {{ getJob(id: $id) {{ {JOB} }} }}"
LIST_JOBS = f"""query ListJobs($status: String!, $sortDirection: ModelSortDirection,
  $limit: Int, $nextToken: String) {{
  listJobByStatusAndCreatedAt(status: $status, sortDirection: $sortDirection,
    limit: $limit, nextToken: $nextToken) {{ items {{ {JOB} }} nextToken }} }}"""
CREATE_EVENT = f"""mutation CreateJobEvent($input: CreateJobEventInput!) {{
  createJobEvent(input: $input) {{ {JOB_EVENT} }} }}"""
GET_EVENT = f"query GetJobEvent($id: ID!) {{ getJobEvent(id: $id) {{ {JOB_EVENT} }} }}"
LIST_EVENTS = f"""query ListJobEvents($jobId: ID!, $sortDirection: ModelSortDirection,
  $limit: Int, $nextToken: String) {{
  listJobEventByJobIdAndCreatedAt(jobId: $jobId, sortDirection: $sortDirection,
    limit: $limit, nextToken: $nextToken) {{ items {{ {JOB_EVENT} }} nextToken }} }}"""
CREATE_RENDER_RUN = f"""mutation CreateRenderRun($input: CreateRenderRunInput!) {{
  createRenderRun(input: $input) {{ {RENDER_RUN} }} }}"""
GET_RENDER_RUN = f"query GetRenderRun($id: ID!) {{ getRenderRun(id: $id) {{ {RENDER_RUN} }} }}"
LIST_RENDER_RUNS = f"""query ListRenderRuns($jobId: ID!, $limit: Int, $nextToken: String) {{
  listRenderRunByJobId(jobId: $jobId, limit: $limit, nextToken: $nextToken) {{
    items {{ {RENDER_RUN} }} nextToken }} }}"""
CREATE_GENERATION_RUN = f"""mutation CreateGenerationRun($input: CreateGenerationRunInput!) {{
  createGenerationRun(input: $input) {{ {GENERATION_RUN} }} }}"""
GET_GENERATION_RUN = f"""query GetGenerationRun($id: ID!) {{
  getGenerationRun(id: $id) {{ {GENERATION_RUN} }} }}"""
CREATE_RENDER_CHUNK = f"""mutation CreateRenderChunk($input: CreateRenderChunkInput!) {{
  createRenderChunk(input: $input) {{ {RENDER_CHUNK} }} }}"""
UPDATE_RENDER_CHUNK = f"""mutation UpdateRenderChunk($input: UpdateRenderChunkInput!,
  $condition: ModelRenderChunkConditionInput) {{
  updateRenderChunk(input: $input, condition: $condition) {{ {RENDER_CHUNK} }} }}"""
GET_RENDER_CHUNK = f"""query GetRenderChunk($id: ID!) {{
  getRenderChunk(id: $id) {{ {RENDER_CHUNK} }} }}"""
LIST_RENDER_CHUNKS = f"""query ListRenderChunks($jobId: ID!, $limit: Int, $nextToken: String) {{
  listRenderChunkByJobIdAndCreatedAt(jobId: $jobId, limit: $limit, nextToken: $nextToken) {{
    items {{ {RENDER_CHUNK} }} nextToken }} }}"""
LIST_RENDER_CHUNKS_BY_STATUS = f"""query ListRenderChunksByStatus($status: String!,
  $limit: Int, $nextToken: String) {{
  listRenderChunkByStatusAndCreatedAt(status: $status, limit: $limit, nextToken: $nextToken) {{
    items {{ {RENDER_CHUNK} }} nextToken }} }}"""
