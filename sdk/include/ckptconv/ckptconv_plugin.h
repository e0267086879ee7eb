/**
 * @file ckptconv_plugin.h
 * @brief The whole binary interface between the ckptconv host and a plugin.
 *
 * This header is plain C99 and is the only thing that crosses the boundary:
 * no STL type, exception, vtable or ownership does. A plugin is a shared
 * library exporting one function, `ckptconv_plugin_entry_v1`, returning a
 * descriptor (ckptconv_plugin_v1). The host calls the descriptor's functions
 * and passes its services table (ckptconv_host_v1) into every call.
 *
 * ABI rules
 * - CKPTCONV_ABI_MAJOR differs between host and plugin: the plugin is refused.
 * - The plugin's minor is newer than the host's: the plugin is refused.
 * - An older minor is accepted: every struct is append-only and starts with
 *   `struct_size`, so each side reads only the fields the other one knows.
 * - Removing, reordering or retyping a field bumps the major.
 *
 * Plugins never see tensor bytes: they see names, dtypes and shapes and
 * answer with a score (detect) and a plan of expressions over source
 * tensors (plan). The host does all I/O and tensor work.
 *
 * Minimal plugin (the C++ wrapper in ckptconv/sdk.hpp makes this shorter):
 * @code
 * static int32_t my_detect(void* state, const ckptconv_host_v1* host, ckptconv_call* call,
 *                          const ckptconv_index_v1* index, ckptconv_detect_result_v1* out) {
 *     out->score = 0;   // not mine
 *     return CKPTCONV_OK;
 * }
 * static int32_t my_plan(void* state, const ckptconv_host_v1* host, ckptconv_call* call,
 *                        const ckptconv_index_v1* index, const ckptconv_plan_request_v1* req) {
 *     return CKPTCONV_E_UNSUPPORTED;
 * }
 * CKPTCONV_EXPORT const ckptconv_plugin_v1* ckptconv_plugin_entry_v1(void) {
 *     static const ckptconv_plugin_v1 d = {sizeof(d), CKPTCONV_ABI_VERSION, "my_family", "1.0.0",
 *                                          "what it converts", NULL, NULL, NULL, my_detect, my_plan};
 *     return &d;
 * }
 * @endcode
 */
#ifndef CKPTCONV_PLUGIN_H
#define CKPTCONV_PLUGIN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- versions */

#define CKPTCONV_ABI_MAJOR 1
#define CKPTCONV_ABI_MINOR 6
/** (major << 16) | minor, as stored in ckptconv_plugin_v1::abi_version. */
#define CKPTCONV_ABI_VERSION ((uint32_t)((CKPTCONV_ABI_MAJOR << 16) | CKPTCONV_ABI_MINOR))
#define CKPTCONV_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define CKPTCONV_ABI_MINOR_OF(v) ((uint32_t)(v)&0xFFFFu)

/** Name of the one symbol a plugin library exports. */
#define CKPTCONV_PLUGIN_ENTRY_SYMBOL "ckptconv_plugin_entry_v1"

#if defined(_WIN32)
#define CKPTCONV_EXPORT __declspec(dllexport)
#else
#define CKPTCONV_EXPORT __attribute__((visibility("default")))
#endif

/* ------------------------------------------------------------ status codes */

/** Every ABI function returns one of these; 0 is success, errors are negative. */
enum {
    CKPTCONV_OK = 0,
    CKPTCONV_E_INVALID_ARGUMENT = -1, /**< a caller broke a documented precondition */
    CKPTCONV_E_INVALID_DATA = -2,     /**< the checkpoint is not what the plugin expects */
    CKPTCONV_E_UNSUPPORTED = -3,      /**< recognised, but this case has no rules */
    CKPTCONV_E_NOMEM = -4,
    CKPTCONV_E_INTERNAL = -5, /**< a bug, or an exception caught at the boundary */
    CKPTCONV_E_PLAN = -6      /**< a plan-building call was refused (see its message) */
};

/* ------------------------------------------------------------------ dtypes */

/** Element types. 0 is never a valid dtype. Values are frozen. */
enum {
    CKPTCONV_DTYPE_INVALID = 0,
    CKPTCONV_DTYPE_F64 = 1,
    CKPTCONV_DTYPE_F32 = 2,
    CKPTCONV_DTYPE_F16 = 3,
    CKPTCONV_DTYPE_BF16 = 4,
    CKPTCONV_DTYPE_I64 = 5,
    CKPTCONV_DTYPE_I32 = 6,
    CKPTCONV_DTYPE_I16 = 7,
    CKPTCONV_DTYPE_I8 = 8,
    CKPTCONV_DTYPE_U8 = 9,
    CKPTCONV_DTYPE_BOOL = 10,
    CKPTCONV_DTYPE_C64 = 11,
    CKPTCONV_DTYPE_C128 = 12,
    CKPTCONV_DTYPE_F8_E4M3FN = 13,
    CKPTCONV_DTYPE_F8_E5M2 = 14,
    CKPTCONV_DTYPE_U16 = 15,
    CKPTCONV_DTYPE_U32 = 16,
    CKPTCONV_DTYPE_U64 = 17
};

/* ------------------------------------------------------- the index (view) */

/** Bits of ckptconv_tensor_v1::flags. */
enum {
    CKPTCONV_TENSOR_PARAMETER = 1u << 0,     /**< pickled as nn.Parameter */
    CKPTCONV_TENSOR_SHARES_STORAGE = 1u << 1 /**< another tensor views the same storage */
};

/** Bits of ckptconv_root_v1::flags. */
enum {
    CKPTCONV_ROOT_STATE_DICT = 1u << 0 /**< a dict with string keys whose values are all tensors */
};

/**
 * One tensor of the checkpoint: metadata only.
 * Every pointer is owned by the host and valid for the duration of the call
 * that received the index; copy what you need to keep.
 */
typedef struct ckptconv_tensor_v1 {
    const char* key;        /**< NUL-terminated UTF-8 key inside its root */
    uint32_t root;          /**< index into ckptconv_index_v1::roots */
    uint32_t dtype;         /**< a CKPTCONV_DTYPE_* value */
    uint32_t ndim;          /**< number of dimensions (0 for a scalar) */
    uint32_t flags;         /**< CKPTCONV_TENSOR_* bits */
    const int64_t* shape;   /**< ndim sizes */
    uint64_t storage_group; /**< equal values = the same underlying storage (tied weights) */
} ckptconv_tensor_v1;

/**
 * A container in the object tree that holds tensors directly, e.g. the state
 * dict under "module" or "state_dict". Its tensors are contiguous in
 * ckptconv_index_v1::tensors, in the order the checkpoint stores them.
 */
typedef struct ckptconv_root_v1 {
    const char* path;      /**< "" for the top level, else dotted keys: "module", "model.encoder" */
    uint64_t first_tensor; /**< index of its first tensor */
    uint64_t tensor_count; /**< number of its tensors */
    uint32_t flags;        /**< CKPTCONV_ROOT_* bits */
} ckptconv_root_v1;

/** A non-tensor entry of the object tree (step counters, args, numpy scalars...). */
typedef struct ckptconv_extra_v1 {
    const char* path; /**< dotted path from the top level */
    const char* type; /**< "int", "str", "dict", or "module.Class" for opaque objects */
} ckptconv_extra_v1;

/**
 * Read-only view of a checkpoint index: what a plugin may look at.
 * Owned by the host; valid only during the call that received it.
 * Arrays must be walked with the *_stride fields (bytes between elements),
 * never with sizeof, so a plugin built against an older minor still steps
 * correctly through the host's (possibly larger) element structs.
 */
typedef struct ckptconv_index_v1 {
    uint32_t struct_size;   /**< sizeof(ckptconv_index_v1) as the host built it */
    uint32_t tensor_stride; /**< bytes between two ckptconv_tensor_v1 elements */
    uint32_t root_stride;   /**< bytes between two ckptconv_root_v1 elements */
    uint32_t extra_stride;  /**< bytes between two ckptconv_extra_v1 elements */
    const char* file_path;  /**< the input as the user named it */
    const char* container;  /**< "torch-zip", "torch-legacy", "safetensors", "safetensors-sharded",
                               "torch-sharded" */
    uint64_t tensor_count;
    const ckptconv_tensor_v1* tensors;
    uint32_t root_count;
    const ckptconv_root_v1* roots;
    uint32_t extra_count;
    const ckptconv_extra_v1* extras;
} ckptconv_index_v1;

/* ---------------------------------------------------------------- detect */

/** Named anchors of the 0..100 detection score (after FFmpeg's probe scores). */
enum {
    CKPTCONV_SCORE_NO = 0,         /**< not this plugin's format */
    CKPTCONV_SCORE_WEAK = 1,       /**< generic hints only */
    CKPTCONV_SCORE_RETRY = 25,     /**< the host ignores scores at or below this */
    CKPTCONV_SCORE_PLAUSIBLE = 50, /**< structure looks right */
    CKPTCONV_SCORE_MAGIC = 75,     /**< a distinctive fingerprint matched */
    CKPTCONV_SCORE_VERSIONED = 90, /**< fingerprint matched and the format version is known */
    CKPTCONV_SCORE_CERTAIN = 100   /**< ...and a rule set for that version is registered */
};

#define CKPTCONV_DETECT_TEXT_MAX 256

/**
 * What detect found. The host zero-fills it and sets struct_size; the plugin
 * writes only fields that lie within struct_size. Strings are NUL-terminated
 * and truncated to their buffers (the C++ wrapper does that for you).
 */
typedef struct ckptconv_detect_result_v1 {
    uint32_t struct_size;
    int32_t score;                         /**< 0..100, see CKPTCONV_SCORE_* */
    char format_version[64];               /**< source layout version, e.g. "1.5" */
    char variant[64];                      /**< e.g. "5b-i2v"; "" when not applicable */
    char target[64];                       /**< what plan() will produce, e.g. "diffusers" */
    char reason[CKPTCONV_DETECT_TEXT_MAX]; /**< one line a user can read */
} ckptconv_detect_result_v1;

/* ------------------------------------------------------------------ plan */

/** One user option (--option K=V or `options:` in a config). Host-owned. */
typedef struct ckptconv_option_v1 {
    const char* key;
    const char* value;
} ckptconv_option_v1;

/** What the user asked plan() for. Host-owned, valid during the call. */
typedef struct ckptconv_plan_request_v1 {
    uint32_t struct_size;
    const char* format_version; /**< detected, or forced with --format-version */
    const char* variant;        /**< from detection; "" if none */
    const char* output_format;  /**< "pt", "safetensors" or "diffusers" */
    uint32_t option_count;
    const ckptconv_option_v1* options;
} ckptconv_plan_request_v1;

/** Opaque handle of one host call; passed back to every host service. */
typedef struct ckptconv_call ckptconv_call;

/**
 * Handle of a plan expression. Values >= 0 are valid; a negative value means
 * the building call failed (its message is already recorded on the call) and
 * may be passed on: every op given a negative handle returns it unchanged, so
 * plugins can build a whole expression and check once.
 */
typedef int64_t ckptconv_expr;

/** Log levels for ckptconv_host_v1::log. */
enum { CKPTCONV_LOG_DEBUG = 1, CKPTCONV_LOG_INFO = 2, CKPTCONV_LOG_WARNING = 3 };

/**
 * Services the host offers. Owned by the host; valid for the whole life of
 * the plugin. Every string argument is copied by the host before the service
 * returns, so plugins may pass temporaries.
 */
typedef struct ckptconv_host_v1 {
    uint32_t struct_size;
    uint32_t abi_version;

    /** Log a line attributed to the plugin. */
    void (*log)(ckptconv_call* call, int32_t level, const char* message);
    /** Record why the current call fails; the plugin then returns `status`. */
    void (*set_error)(ckptconv_call* call, int32_t status, const char* message);

    /* Plan building (valid only inside plan()). Shapes are checked as ops are
     * built; a mismatch makes the op return a negative handle. dims may be
     * negative (counted from the end). */

    /** A source tensor by root path and key. */
    ckptconv_expr (*plan_source)(ckptconv_call* call, const char* root, const char* key);
    /** The `index`-th of `parts` equal pieces along `dim`. */
    ckptconv_expr (*plan_chunk)(ckptconv_call* call, ckptconv_expr x, int64_t parts, int64_t index, int64_t dim);
    /** Concatenation along `dim`; `xs` is read during the call only. */
    ckptconv_expr (*plan_cat)(ckptconv_call* call, const ckptconv_expr* xs, uint32_t count, int64_t dim);
    /** `length` entries from `start` along `dim`. */
    ckptconv_expr (*plan_narrow)(ckptconv_call* call, ckptconv_expr x, int64_t dim, int64_t start, int64_t length);
    /** Grow (zero rows appended) or cut `dim` to `new_size`. */
    ckptconv_expr (*plan_pad)(ckptconv_call* call, ckptconv_expr x, int64_t dim, int64_t new_size);
    /** Same elements, new shape (row-major). */
    ckptconv_expr (*plan_reshape)(ckptconv_call* call, ckptconv_expr x, const int64_t* shape, uint32_t ndim);
    /** Dimension permutation; `dims` has ndim(x) entries. */
    ckptconv_expr (*plan_permute)(ckptconv_call* call, ckptconv_expr x, const int64_t* dims, uint32_t ndim);
    /** Element type conversion (round to nearest even). */
    ckptconv_expr (*plan_cast)(ckptconv_call* call, ckptconv_expr x, uint32_t dtype);
    /** A new tensor of zeros. */
    ckptconv_expr (*plan_zeros)(ckptconv_call* call, const int64_t* shape, uint32_t ndim, uint32_t dtype);
    /** A new tensor from little-endian bytes (copied by the host). */
    ckptconv_expr (*plan_constant)(ckptconv_call* call, const int64_t* shape, uint32_t ndim, uint32_t dtype,
                                   const void* data, uint64_t nbytes);

    /** Emit `x` as output tensor `key` of output root `root` ("" = top level). */
    int32_t (*plan_output)(ckptconv_call* call, const char* root, const char* key, ckptconv_expr x);
    /** Emit `key` as a tied alias of an earlier output (one storage in pt, one copy in safetensors). */
    int32_t (*plan_alias)(ckptconv_call* call, const char* root, const char* key, const char* target_root,
                          const char* target_key);
    /** Declare a source tensor unused, with a reason the report shows. */
    int32_t (*plan_drop)(ckptconv_call* call, const char* root, const char* key, const char* reason);
    /** Declare an expected output (the target spec, as load_state_dict(strict=True) would). */
    int32_t (*plan_expect)(ckptconv_call* call, const char* root, const char* key, const int64_t* shape, uint32_t ndim);
    /** Add a file to the output folder (e.g. "transformer/config.json"); bytes copied. */
    int32_t (*plan_file)(ckptconv_call* call, const char* relative_path, const void* data, uint64_t nbytes);
    /**
     * Name the target layout and its on-disk component folder ("" = none). The
     * name "diffusers_lora" (since ABI 1.4) makes a diffusers output one
     * pytorch_lora_weights.safetensors in the output folder.
     */
    int32_t (*plan_target)(ckptconv_call* call, const char* target_name, const char* component_dir);
    /** Keep (nonzero) or drop (0) the non-tensor content of the source for pt output. */
    int32_t (*plan_keep_extras)(ckptconv_call* call, int32_t keep);

    /* Since ABI 1.1: check host->struct_size covers a field before calling it. */

    /**
     * Plan from a rule set as data (the `rules:` section of a ckptconv YAML config):
     * drops and ordered renames applied to every selected root. The rules are the
     * user's (a `rules:` section in the config they passed) when there is one, else
     * the file `name` (e.g. "my_family.yaml") in the folder the plugin was loaded
     * from. A missing or invalid file fails with a message naming the file.
     */
    int32_t (*plan_rules)(ckptconv_call* call, const char* name);

    /* Since ABI 1.2. */

    /**
     * A line for the conversion report that the user must read, e.g. a part of
     * the model this conversion could not supply. Not an error.
     */
    int32_t (*plan_note)(ckptconv_call* call, const char* text);

    /* Since ABI 1.3. */

    /**
     * A non-tensor top-level entry `key` of a pt output, e.g. the `args` of a
     * fairseq envelope, as JSON text: null, booleans, integers, floats,
     * strings, arrays (Python lists) and objects (dicts with str keys); an
     * object whose only member is "__namespace__" becomes an
     * argparse.Namespace of that member's fields. Only allow-listed globals
     * are pickled. Other containers cannot hold it; the report says so.
     */
    int32_t (*plan_value)(ckptconv_call* call, const char* key, const char* json);

    /* Since ABI 1.4. */

    /**
     * Declare root `root` ("" = the top level) the model of a training save.
     * Once a plan declares one, the host drops every source tensor and
     * top-level entry outside the declared roots that is known training
     * state (RNG, optimizer, scheduler, step counters, DeepSpeed bookkeeping,
     * trainer state, EMA copies), each with its category in the report;
     * anything else outside them is still refused by the plan check.
     */
    int32_t (*plan_model_root)(ckptconv_call* call, const char* root);
    /**
     * `w` + `scale`·(`b`·`a`), a LoRA update merged with SAT's arithmetic: the
     * product and the scaling in fp32, the update rounded to w's dtype, then
     * added in w's dtype (two roundings). w is [out, in], b [out, r], a [r, in].
     */
    ckptconv_expr (*plan_add_lora)(ckptconv_call* call, ckptconv_expr w, ckptconv_expr a, ckptconv_expr b,
                                   double scale);
    /**
     * A string entry `key` of a safetensors output's __metadata__ (e.g. diffusers'
     * lora_adapter_metadata); "format" and "ckptconv." keys are the host's. A pt
     * output records it beside its provenance.
     */
    int32_t (*plan_metadata)(ckptconv_call* call, const char* key, const char* value);
} ckptconv_host_v1;

/* ------------------------------------------------------- partitions */

/**
 * How a model-parallel save (SAT's `mp_rank_00..N-1_model_states.pt`) splits
 * one tensor over its N ranks, after SAT's `mpu` layers (since ABI 1.5). The
 * host merges the ranks by these rules before detection and planning, so the
 * plan sees the whole model. Megatron-LM's fused Q/K/V order differs: a table
 * written for SAT must not be used for Megatron files.
 */
enum {
    /** Whole on every rank (LayerNorm, plain Linear, RowParallel biases): rank 0's, checked byte-equal on all. */
    CKPTCONV_PARTITION_REPLICATED = 0,
    /**
     * Split along dim 0 (ColumnParallelLinear weight and bias): each rank holds `stride` equal blocks of
     * its rows; merged = for each block, that block of every rank in rank order (stride 3 for a fused
     * Q/K/V, never a plain cat; stride 1 is a plain cat).
     */
    CKPTCONV_PARTITION_COLUMN = 1,
    /** Split along the last dim (RowParallelLinear weight): each merged row is that row of every rank. */
    CKPTCONV_PARTITION_ROW = 2,
    /** Split along dim 0 in rank order (VocabParallelEmbedding). */
    CKPTCONV_PARTITION_VOCAB = 3,
    /** No well-defined merge (e.g. LoRA trained model-parallel): a save holding it is refused with `reason`. */
    CKPTCONV_PARTITION_REFUSE = 4
};

/**
 * One partition rule. The first rule whose `key_glob` matches a tensor's key
 * (within its root; `*` matches any run of characters, dots included) decides;
 * a tensor no rule matches is REPLICATED. Entries of an array are
 * `struct_size` bytes apart.
 */
typedef struct ckptconv_partition_v1 {
    uint32_t struct_size; /**< sizeof(ckptconv_partition_v1) as the plugin was compiled */
    uint32_t kind;        /**< a CKPTCONV_PARTITION_* value */
    uint32_t stride;      /**< COLUMN: blocks per rank (0 reads as 1) */
    const char* key_glob; /**< e.g. "*.attention.query_key_value.weight" */
    const char* reason;   /**< REFUSE: one line a user can read; else NULL */
} ckptconv_partition_v1;

/* ---------------------------------------------------------- sidecar values */

/**
 * A value a training run writes beside its save instead of into it, which the
 * plugin's plan needs (since ABI 1.6): SAT records the LoRA alpha only in the
 * run's training_config.yaml. The host looks for `file_name` in the folder of
 * the input's first file, then up to `parents` folders above it, reads it as
 * YAML (at most 1 MiB and 64 levels deep), follows `yaml_path` (mapping keys
 * joined by '.') to a scalar and passes its text to plan() as the option
 * `option` after the user's options (so --option of the same key wins). No file,
 * or no scalar at the path: no option. A file that cannot be read is named in
 * the report's notes and not used. Entries of an array are `struct_size` apart.
 */
typedef struct ckptconv_sidecar_v1 {
    uint32_t struct_size;  /**< sizeof(ckptconv_sidecar_v1) as the plugin was compiled */
    uint32_t parents;      /**< folders above the input's to look in too (at most 4) */
    const char* file_name; /**< a plain file name, e.g. "training_config.yaml" */
    const char* yaml_path; /**< e.g. "model.network_config.params.modules.lora_config.params.lora_alpha" */
    const char* option;    /**< the plan option it becomes: "source." and a name, e.g. "source.lora_alpha" */
} ckptconv_sidecar_v1;

/* ------------------------------------------------------------ descriptor */

/**
 * What a plugin is. Returned by the entry function; must stay valid and
 * unchanged until the library is unloaded (a static const object is ideal).
 * The host copies at most struct_size bytes into a zeroed struct of its own,
 * so fields appended in newer minors read as NULL/0 for older plugins.
 */
typedef struct ckptconv_plugin_v1 {
    uint32_t struct_size;    /**< sizeof(ckptconv_plugin_v1) as the plugin was compiled */
    uint32_t abi_version;    /**< CKPTCONV_ABI_VERSION the plugin was compiled against */
    const char* id;          /**< Required: [a-z0-9_]+, e.g. "cogvideox_sat" */
    const char* version;     /**< Required: semantic version of the plugin, "1.2.0" */
    const char* description; /**< Optional: one line */
    /** Optional: NULL-terminated list of source format versions it has rules for. */
    const char* const* format_versions;

    /**
     * Optional: called once after loading. `*state` is passed to every later
     * call and released by shutdown(). Return non-zero to refuse loading
     * (after host->set_error on `call`).
     */
    int32_t (*init)(const ckptconv_host_v1* host, ckptconv_call* call, void** state);
    /** Optional: called once before the host forgets the plugin. */
    void (*shutdown)(void* state);

    /**
     * Required: score the index. Must be pure: no I/O, no global state, bounded
     * time, callable from several threads. "Not mine" is score 0 and CKPTCONV_OK.
     */
    int32_t (*detect)(void* state, const ckptconv_host_v1* host, ckptconv_call* call, const ckptconv_index_v1* index,
                      ckptconv_detect_result_v1* result);
    /**
     * Required: build the conversion plan through host->plan_* services.
     * Every source tensor must end up used by an output or dropped with a
     * reason; the host checks the plan before any byte is written.
     */
    int32_t (*plan)(void* state, const ckptconv_host_v1* host, ckptconv_call* call, const ckptconv_index_v1* index,
                    const ckptconv_plan_request_v1* request);

    /* Since ABI 1.5. */

    /**
     * Optional: how this family's model-parallel saves split each tensor
     * (`partition_count` rules, see ckptconv_partition_v1). NULL: the
     * plugin's model-parallel saves are refused.
     */
    const ckptconv_partition_v1* partitions;
    uint32_t partition_count;

    /* Since ABI 1.6. */

    /** Optional: values to read from files beside the input (`sidecar_count` of them, see ckptconv_sidecar_v1). */
    const ckptconv_sidecar_v1* sidecars;
    uint32_t sidecar_count;
} ckptconv_plugin_v1;

/** Type of the exported entry function named CKPTCONV_PLUGIN_ENTRY_SYMBOL. */
typedef const ckptconv_plugin_v1* (*ckptconv_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* CKPTCONV_PLUGIN_H */
