/* A tiny plugin in plain C, built once per FAKE_KIND to break the ABI contract
 * in one way each (see CMakeLists.txt). FAKE_GOOD is a correct plugin: it
 * claims indexes holding a tensor named "fake.marker" and plans a copy of
 * every tensor. */
#include <ckptconv/ckptconv_plugin.h>

#include <stddef.h>
#include <string.h>

#ifndef FAKE_ID
#define FAKE_ID "fake_good"
#endif
#ifndef FAKE_VERSION
#define FAKE_VERSION "1.0.0"
#endif
#ifndef FAKE_MARKER
#define FAKE_MARKER "fake.marker"
#endif

static const ckptconv_tensor_v1* tensor_at(const ckptconv_index_v1* index, uint64_t i) {
    return (const ckptconv_tensor_v1*)((const unsigned char*)index->tensors + index->tensor_stride * i);
}
static const ckptconv_root_v1* root_at(const ckptconv_index_v1* index, uint32_t i) {
    return (const ckptconv_root_v1*)((const unsigned char*)index->roots + index->root_stride * i);
}

static int32_t fake_detect(void* state, const ckptconv_host_v1* host, ckptconv_call* call,
                           const ckptconv_index_v1* index, ckptconv_detect_result_v1* out) {
    (void)state;
    (void)host;
    (void)call;
    out->score = CKPTCONV_SCORE_NO;
    for (uint64_t i = 0; i < index->tensor_count; ++i) {
        if (strcmp(tensor_at(index, i)->key, FAKE_MARKER) == 0) {
            out->score = CKPTCONV_SCORE_MAGIC;
            strcpy(out->format_version, "1");
            strcpy(out->reason, "has fake.marker");
        }
    }
    return CKPTCONV_OK;
}

static int32_t fake_plan(void* state, const ckptconv_host_v1* host, ckptconv_call* call, const ckptconv_index_v1* index,
                         const ckptconv_plan_request_v1* request) {
    (void)state;
    (void)request;
    for (uint64_t i = 0; i < index->tensor_count; ++i) {
        const ckptconv_tensor_v1* t = tensor_at(index, i);
        const char* root = root_at(index, t->root)->path;
        ckptconv_expr x = host->plan_source(call, root, t->key);
        if (host->plan_output(call, "", t->key, x) != CKPTCONV_OK) return CKPTCONV_E_PLAN;
    }
    return CKPTCONV_OK;
}

#ifdef FAKE_INIT_FAILS
static int32_t fake_init(const ckptconv_host_v1* host, ckptconv_call* call, void** state) {
    (void)state;
    host->set_error(call, CKPTCONV_E_UNSUPPORTED, "fake init refuses to start");
    return CKPTCONV_E_UNSUPPORTED;
}
#define FAKE_INIT fake_init
#else
#define FAKE_INIT NULL
#endif

#ifdef FAKE_WRONG_MAJOR
#define FAKE_ABI ((uint32_t)(((CKPTCONV_ABI_MAJOR + 1) << 16) | 0))
#elif defined(FAKE_NEWER_MINOR)
#define FAKE_ABI ((uint32_t)((CKPTCONV_ABI_MAJOR << 16) | (CKPTCONV_ABI_MINOR + 1)))
#elif defined(FAKE_MINOR_ZERO)
#define FAKE_ABI ((uint32_t)(CKPTCONV_ABI_MAJOR << 16)) /* built against the first 1.x host */
#else
#define FAKE_ABI CKPTCONV_ABI_VERSION
#endif

#ifdef FAKE_NO_DETECT
#define FAKE_DETECT NULL
#else
#define FAKE_DETECT fake_detect
#endif

static const char* const fake_versions[] = {"1", NULL};
#ifdef FAKE_BAD_PARTITIONS
static const ckptconv_partition_v1 fake_partitions[] = {
    {sizeof(ckptconv_partition_v1), CKPTCONV_PARTITION_REFUSE, 1, "*.lora.*", NULL}}; /* refuses without a reason */
#else
static const ckptconv_partition_v1 fake_partitions[] = {
    {sizeof(ckptconv_partition_v1), CKPTCONV_PARTITION_COLUMN, 3, "*.qkv.weight", NULL},
    {sizeof(ckptconv_partition_v1), CKPTCONV_PARTITION_REFUSE, 0, "*.lora.*", "a reason"}};
#endif
#ifdef FAKE_BAD_SIDECARS
static const ckptconv_sidecar_v1 fake_sidecars[] = {
    {sizeof(ckptconv_sidecar_v1), 1, "../run.yaml", "a.b", "source.b"}}; /* a path, not a plain file name */
#else
static const ckptconv_sidecar_v1 fake_sidecars[] = {
    {sizeof(ckptconv_sidecar_v1), 2, "run.yaml", "train.lora.alpha", "source.alpha"}};
#endif
static const ckptconv_plugin_v1 descriptor = {sizeof(ckptconv_plugin_v1),
                                              FAKE_ABI,
                                              FAKE_ID,
                                              FAKE_VERSION,
                                              "contract-test plugin",
                                              fake_versions,
                                              FAKE_INIT,
                                              NULL,
                                              FAKE_DETECT,
                                              fake_plan,
                                              fake_partitions,
                                              sizeof fake_partitions / sizeof fake_partitions[0],
                                              fake_sidecars,
                                              sizeof fake_sidecars / sizeof fake_sidecars[0]};

#ifdef FAKE_TOO_SMALL
static ckptconv_plugin_v1 small_descriptor;
#endif

#ifndef FAKE_MISSING_ENTRY
CKPTCONV_EXPORT const ckptconv_plugin_v1* ckptconv_plugin_entry_v1(void) {
#if defined(FAKE_NULL_DESCRIPTOR)
    return NULL;
#elif defined(FAKE_TOO_SMALL)
    small_descriptor = descriptor;
    small_descriptor.struct_size = 8; /* only struct_size and abi_version */
    return &small_descriptor;
#else
    return &descriptor;
#endif
}
#else
CKPTCONV_EXPORT int ckptconv_plugin_entry_misspelt(void) { return 0; }
#endif
