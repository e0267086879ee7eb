#include "core/util/SecondCore.hpp"

#include "core/util/FaultGuard.hpp"

namespace ckptconv::core {

SecondCore::~SecondCore() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void SecondCore::run(const std::function<void()>& first, const std::function<void()>& second) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!thread_.joinable()) {
            const TerminationSignalsBlocked quiet; // the thread inherits the mask: signals go to the main thread
            thread_ = std::thread([this] { loop(); });
        }
        task_ = &second;
        failure_ = nullptr;
        done_ = false;
    }
    changed_.notify_all();
    std::exception_ptr here;
    try {
        first();
    } catch (...) {
        here = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [this] { return done_; });
    if (here) std::rethrow_exception(here);
    if (failure_) std::rethrow_exception(failure_);
}

void SecondCore::loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        changed_.wait(lock, [this] { return stopping_ || task_ != nullptr; });
        if (!task_) return;
        const std::function<void()>* task = task_;
        task_ = nullptr;
        lock.unlock();
        std::exception_ptr failure;
        try {
            (*task)();
        } catch (...) {
            failure = std::current_exception();
        }
        lock.lock();
        failure_ = failure;
        done_ = true;
        changed_.notify_all();
    }
}

} // namespace ckptconv::core
