#include "core/host/HostCall.hpp"

#include "core/host/RuleSource.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/util/Log.hpp"

namespace ckptconv::core {
namespace {

// Runs one plan op; a refusal is recorded on the call and turned into `failed`.
template <class R, class F> R plan_op(ckptconv_call* call, R failed, F&& op) noexcept {
    if (!call || !call->plan) {
        if (call) {
            call->error_status = CKPTCONV_E_INVALID_ARGUMENT;
            call->error_message = "plan services may only be used inside plan()";
        }
        return failed;
    }
    try {
        return op(*call->plan);
    } catch (const std::exception& e) {
        if (call->error_status == CKPTCONV_OK) { // keep the first, root-cause message
            call->error_status = CKPTCONV_E_PLAN;
            call->error_message = e.what();
        }
        return failed;
    }
}

// Expression ops pass a negative operand handle through unchanged.
template <class F>
ckptconv_expr expr_op(ckptconv_call* call, std::initializer_list<ckptconv_expr> operands, F&& op) noexcept {
    for (ckptconv_expr x : operands)
        if (x < 0) return x;
    return plan_op<ckptconv_expr>(call, -1, std::forward<F>(op));
}

std::string text(const char* s) { return s ? s : ""; }
Shape shape_of(const int64_t* p, uint32_t n) { return p ? Shape(p, p + n) : Shape(); }

void svc_log(ckptconv_call* call, int32_t level, const char* message) {
    const std::string line = (call ? "[" + call->plugin_id + "] " : std::string()) + text(message);
    const LogLevel l = level >= CKPTCONV_LOG_WARNING ? LogLevel::Warning
                       : level == CKPTCONV_LOG_INFO  ? LogLevel::Info
                                                     : LogLevel::Debug;
    if (call) call->logs.emplace_back(level, text(message));
    log(l, line);
}

void svc_set_error(ckptconv_call* call, int32_t status, const char* message) {
    if (!call) return;
    call->error_status = status;
    call->error_message = text(message);
}

ckptconv_expr svc_source(ckptconv_call* c, const char* root, const char* key) {
    return expr_op(c, {}, [&](PlanBuilder& p) { return p.source(text(root), text(key)); });
}
ckptconv_expr svc_chunk(ckptconv_call* c, ckptconv_expr x, int64_t parts, int64_t index, int64_t dim) {
    return expr_op(c, {x}, [&](PlanBuilder& p) { return p.chunk(x, parts, index, dim); });
}
ckptconv_expr svc_cat(ckptconv_call* c, const ckptconv_expr* xs, uint32_t count, int64_t dim) {
    std::vector<int64_t> handles(xs, xs + (xs ? count : 0));
    for (int64_t h : handles)
        if (h < 0) return h;
    return plan_op<ckptconv_expr>(c, -1, [&](PlanBuilder& p) { return p.cat(handles, dim); });
}
ckptconv_expr svc_narrow(ckptconv_call* c, ckptconv_expr x, int64_t dim, int64_t start, int64_t length) {
    return expr_op(c, {x}, [&](PlanBuilder& p) { return p.narrow(x, dim, start, length); });
}
ckptconv_expr svc_pad(ckptconv_call* c, ckptconv_expr x, int64_t dim, int64_t new_size) {
    return expr_op(c, {x}, [&](PlanBuilder& p) { return p.pad(x, dim, new_size); });
}
ckptconv_expr svc_reshape(ckptconv_call* c, ckptconv_expr x, const int64_t* shape, uint32_t ndim) {
    return expr_op(c, {x}, [&](PlanBuilder& p) { return p.reshape(x, shape_of(shape, ndim)); });
}
ckptconv_expr svc_permute(ckptconv_call* c, ckptconv_expr x, const int64_t* dims, uint32_t ndim) {
    return expr_op(c, {x}, [&](PlanBuilder& p) { return p.permute(x, shape_of(dims, ndim)); });
}
ckptconv_expr svc_cast(ckptconv_call* c, ckptconv_expr x, uint32_t dtype) {
    return expr_op(c, {x}, [&](PlanBuilder& p) { return p.cast(x, static_cast<DType>(dtype)); });
}
ckptconv_expr svc_zeros(ckptconv_call* c, const int64_t* shape, uint32_t ndim, uint32_t dtype) {
    return expr_op(c, {}, [&](PlanBuilder& p) { return p.zeros(shape_of(shape, ndim), static_cast<DType>(dtype)); });
}
ckptconv_expr svc_constant(ckptconv_call* c, const int64_t* shape, uint32_t ndim, uint32_t dtype, const void* data,
                           uint64_t nbytes) {
    return expr_op(c, {}, [&](PlanBuilder& p) {
        std::string bytes(data ? static_cast<const char*>(data) : "", data ? nbytes : 0);
        return p.constant(shape_of(shape, ndim), static_cast<DType>(dtype), std::move(bytes));
    });
}

template <class F> int32_t status_op(ckptconv_call* c, F&& op) {
    return plan_op<int32_t>(c, CKPTCONV_E_PLAN, [&](PlanBuilder& p) {
        op(p);
        return int32_t{CKPTCONV_OK};
    });
}

int32_t svc_output(ckptconv_call* c, const char* root, const char* key, ckptconv_expr x) {
    if (x < 0) return CKPTCONV_E_PLAN;
    return status_op(c, [&](PlanBuilder& p) { p.output(text(root), text(key), x); });
}
int32_t svc_alias(ckptconv_call* c, const char* root, const char* key, const char* troot, const char* tkey) {
    return status_op(c, [&](PlanBuilder& p) { p.alias(text(root), text(key), text(troot), text(tkey)); });
}
int32_t svc_drop(ckptconv_call* c, const char* root, const char* key, const char* reason) {
    return status_op(c, [&](PlanBuilder& p) { p.drop(text(root), text(key), text(reason)); });
}
int32_t svc_expect(ckptconv_call* c, const char* root, const char* key, const int64_t* shape, uint32_t ndim) {
    return status_op(c, [&](PlanBuilder& p) { p.expect(text(root), text(key), shape_of(shape, ndim)); });
}
int32_t svc_file(ckptconv_call* c, const char* path, const void* data, uint64_t nbytes) {
    return status_op(c, [&](PlanBuilder& p) {
        p.file(text(path), std::string(data ? static_cast<const char*>(data) : "", data ? nbytes : 0));
    });
}
int32_t svc_target(ckptconv_call* c, const char* name, const char* component_dir) {
    return status_op(c, [&](PlanBuilder& p) { p.target(text(name), text(component_dir)); });
}
int32_t svc_keep_extras(ckptconv_call* c, int32_t keep) {
    return status_op(c, [&](PlanBuilder& p) { p.keep_extras(keep != 0); });
}
int32_t svc_rules(ckptconv_call* c, const char* name) {
    return status_op(c, [&](PlanBuilder& p) {
        if (!c->rules) throw std::runtime_error("plan_rules: no rule files in this context");
        add_rules(p, c->rules->resolve(text(name)));
    });
}
int32_t svc_note(ckptconv_call* c, const char* note) {
    return status_op(c, [&](PlanBuilder& p) { p.note(text(note)); });
}

int32_t svc_value(ckptconv_call* c, const char* key, const char* json) {
    return status_op(c, [&](PlanBuilder& p) { p.value(text(key), text(json)); });
}

int32_t svc_model_root(ckptconv_call* c, const char* root) {
    return status_op(c, [&](PlanBuilder& p) { p.model_root(text(root)); });
}
ckptconv_expr svc_add_lora(ckptconv_call* c, ckptconv_expr w, ckptconv_expr a, ckptconv_expr b, double scale) {
    return expr_op(c, {w, a, b}, [&](PlanBuilder& p) { return p.add_lora(w, a, b, scale); });
}

int32_t svc_metadata(ckptconv_call* c, const char* key, const char* value) {
    return status_op(c, [&](PlanBuilder& p) { p.metadata(text(key), text(value)); });
}

} // namespace

const ckptconv_host_v1* host_services() {
    static const ckptconv_host_v1 table = {sizeof(ckptconv_host_v1),
                                           CKPTCONV_ABI_VERSION,
                                           svc_log,
                                           svc_set_error,
                                           svc_source,
                                           svc_chunk,
                                           svc_cat,
                                           svc_narrow,
                                           svc_pad,
                                           svc_reshape,
                                           svc_permute,
                                           svc_cast,
                                           svc_zeros,
                                           svc_constant,
                                           svc_output,
                                           svc_alias,
                                           svc_drop,
                                           svc_expect,
                                           svc_file,
                                           svc_target,
                                           svc_keep_extras,
                                           svc_rules,
                                           svc_note,
                                           svc_value,
                                           svc_model_root,
                                           svc_add_lora,
                                           svc_metadata};
    return &table;
}

const char* status_name(int32_t status) {
    switch (status) {
    case CKPTCONV_OK: return "ok";
    case CKPTCONV_E_INVALID_ARGUMENT: return "invalid argument";
    case CKPTCONV_E_INVALID_DATA: return "invalid data";
    case CKPTCONV_E_UNSUPPORTED: return "unsupported";
    case CKPTCONV_E_NOMEM: return "out of memory";
    case CKPTCONV_E_INTERNAL: return "internal error";
    case CKPTCONV_E_PLAN: return "plan refused";
    default: return "unknown status";
    }
}

} // namespace ckptconv::core

std::string ckptconv_call::error_text(int32_t status) const {
    if (!error_message.empty()) return error_message;
    return std::string(ckptconv::core::status_name(status)) + " (status " + std::to_string(status) + ")";
}
