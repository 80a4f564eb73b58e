// vmm.event_manager:manager — the event manager, its subscribers, and the remote endpoint.
export module vmm.event_manager:manager;
import std;
import vmm.sys;
import :error;
import :core;

export namespace vmm::event_manager {

/// What a subscriber uses, inside init() and process(), to change which fds it watches. Each call acts on the
/// calling subscriber's own registrations. Valid only during the callback it was passed to.
class event_ops {
 public:
  /// Starts watching `interest.fd()` for `interest.set()`, reporting `interest.data()` with each event.
  /// Errors: errc::fd_already_registered when this manager already watches the fd; EBADF for a closed fd; EPERM
  /// for a regular file or directory; EINVAL for an event set the kernel rejects.
  [[nodiscard]] auto add(const events& interest) -> result<void> { return registry_->add(slot_, interest); }
  /// Changes the conditions and data of an fd this subscriber watches. Errors: errc::fd_not_registered; EINVAL.
  [[nodiscard]] auto modify(const events& interest) -> result<void> { return registry_->modify(slot_, interest); }
  /// Stops watching `fd`. Errors: errc::fd_not_registered.
  [[nodiscard]] auto remove(sys::borrowed_fd fd) -> result<void> { return registry_->remove(slot_, fd); }
  /// The id of the subscriber these ops act for.
  [[nodiscard]] auto subscriber() const noexcept -> subscriber_id { return registry_->id_of(slot_); }

 private:
  template <class>
  friend class event_manager;
  event_ops(registry& r, std::uint32_t slot) noexcept : registry_{&r}, slot_{slot} {}
  registry* registry_;
  std::uint32_t slot_;
};

/// A type the manager can dispatch to without a virtual call: init() registers its fds, process() handles one
/// ready fd. Both may use the ops to add, modify or remove fds, and may throw (see event_manager::run()).
template <class T>
concept subscriber = requires(T& s, event_ops& ops, const events& ready) {
  s.init(ops);
  s.process(ready, ops);
};

/// What an event_manager<S> may hold: a subscriber itself (static dispatch), or anything that dereferences to
/// one — std::unique_ptr<dynamic_subscriber> for dynamic dispatch, std::shared_ptr<T> for a subscriber that is
/// also reached from elsewhere.
template <class S>
concept subscriber_handle =
    subscriber<S> || requires(S& handle) { requires subscriber<std::remove_reference_t<decltype(*handle)>>; };

/// The base for subscribers of different types in one manager (dynamic dispatch):
/// event_manager<std::unique_ptr<dynamic_subscriber>>.
class dynamic_subscriber {
 public:
  dynamic_subscriber() = default;
  dynamic_subscriber(const dynamic_subscriber&) = delete;
  auto operator=(const dynamic_subscriber&) -> dynamic_subscriber& = delete;
  dynamic_subscriber(dynamic_subscriber&&) = delete;
  auto operator=(dynamic_subscriber&&) -> dynamic_subscriber& = delete;
  virtual ~dynamic_subscriber() = default;
  virtual void init(event_ops& ops) = 0;
  virtual void process(const events& ready, event_ops& ops) = 0;
};

/// A manager of dynamically dispatched subscribers of any types.
template <class S>
class event_manager;
using dynamic_event_manager = event_manager<std::unique_ptr<dynamic_subscriber>>;

/// A subscriber's process() threw: which subscriber, and what it threw.
struct subscriber_error {
  subscriber_id subscriber;
  std::exception_ptr exception;
};

/// Called on the event-loop thread, inside run(), for each exception a subscriber's process() throws.
using subscriber_error_handler = std::function<void(const subscriber_error&)>;

template <class S>
class remote_endpoint;

namespace detail {

// A closure queued for the event-loop thread. A task destroyed without running (the manager went away) reports
// errc::manager_gone to whoever waits for it.
template <class S>
class remote_task {
 public:
  remote_task() = default;
  remote_task(const remote_task&) = delete;
  auto operator=(const remote_task&) -> remote_task& = delete;
  remote_task(remote_task&&) = delete;
  auto operator=(remote_task&&) -> remote_task& = delete;
  virtual ~remote_task() = default;
  virtual void run(event_manager<S>& manager) noexcept = 0;
};

template <class S, class F>
class blocking_task final : public remote_task<S> {
 public:
  using value_type = std::invoke_result_t<F&, event_manager<S>&>;

  explicit blocking_task(F function) : function_{std::move(function)} {}
  blocking_task(const blocking_task&) = delete;
  auto operator=(const blocking_task&) -> blocking_task& = delete;
  blocking_task(blocking_task&&) = delete;
  auto operator=(blocking_task&&) -> blocking_task& = delete;
  ~blocking_task() override {
    if (!done_) {
      promise_.set_value(vmm::failure(errc::manager_gone));
    }
  }

  [[nodiscard]] auto future() -> std::future<result<value_type>> { return promise_.get_future(); }

  void run(event_manager<S>& manager) noexcept override {
    done_ = true;
    try {
      if constexpr (std::is_void_v<value_type>) {
        std::invoke(function_, manager);
        promise_.set_value({});
      } else {
        promise_.set_value(std::invoke(function_, manager));
      }
    } catch (...) {
      promise_.set_value(vmm::failure(errc::remote_call_threw));
    }
  }

 private:
  F function_;
  std::promise<result<value_type>> promise_;
  bool done_ = false;
};

template <class S, class F>
class fire_task final : public remote_task<S> {
 public:
  explicit fire_task(F function) : function_{std::move(function)} {}
  void run(event_manager<S>& manager) noexcept override {
    try {
      std::invoke(function_, manager);
    } catch (...) {  // NOLINT(bugprone-empty-catch): fire-and-forget has nobody to tell; documented on fire()
    }
  }

 private:
  F function_;
};

// The queue between remote endpoints and the manager, shared so that endpoints outlive the manager safely.
template <class S>
struct remote_channel {
  std::mutex mutex;
  std::deque<std::unique_ptr<remote_task<S>>> tasks;
  event_manager<S>* manager = nullptr;  // null once the manager is gone; updated when the manager moves
  sys::event_fd wake;
  std::atomic<std::thread::id> dispatcher;  // the thread inside run() right now, if any (default: none)

  explicit remote_channel(sys::event_fd fd) : wake{std::move(fd)} {}
};

}  // namespace detail

/// An epoll event loop that dispatches each ready fd to the subscriber that registered it.
///
/// Dispatch is O(1): epoll's data carries a registration index and generation (see :core), so finding the
/// subscriber costs one table read — no hash lookup. Reports for a registration removed after epoll_wait returned
/// them are dropped and counted (dropped_events()), never delivered to another subscriber.
///
/// Threading: run() executes subscribers on the calling thread (one thread at a time). Every other member may be
/// called from any thread; such calls wait while a batch of events is being dispatched, never during epoll_wait.
/// A subscriber may call the manager (add or remove subscribers, itself included) from inside process(). Do not
/// block inside process() waiting for a thread that is itself calling this manager. remote_endpoint() runs
/// closures on the loop thread instead.
template <class S>
class event_manager {
  static_assert(subscriber_handle<S>,
                "event_manager<S>: S must have init(event_ops&) and process(const events&, event_ops&), or point to "
                "something that has them");

 public:
  /// Creates a manager. `capacity` bounds the events taken from epoll per run() (more stay queued for the next
  /// run) and pre-sizes the tables. Errors: EMFILE/ENFILE when out of descriptors.
  [[nodiscard]] static auto create(std::size_t capacity = 256) -> result<event_manager> {
    auto state = std::make_unique<state_type>();
    auto reg = registry::create(capacity);
    if (!reg) {
      return std::unexpected(reg.error());
    }
    auto wake = sys::event_fd::create({.nonblocking = true});
    if (!wake) {
      return std::unexpected(wake.error());
    }
    if (auto added = reg->epoll().add(wake->fd(), sys::event_set::readable, registry::internal_token); !added) {
      return std::unexpected(added.error());
    }
    state->reg.emplace(std::move(*reg));
    state->ready.resize(std::max<std::size_t>(capacity, 1));
    state->channel = std::make_shared<detail::remote_channel<S>>(std::move(*wake));
    return event_manager{std::move(state)};
  }

  event_manager(event_manager&& other) noexcept : state_{std::move(other.state_)} { adopt(); }
  auto operator=(event_manager&& other) noexcept -> event_manager& {
    if (this != &other) {
      close();
      state_ = std::move(other.state_);
      adopt();
    }
    return *this;
  }
  event_manager(const event_manager&) = delete;
  auto operator=(const event_manager&) -> event_manager& = delete;
  /// Destroys every subscriber; pending remote calls fail with errc::manager_gone.
  ~event_manager() { close(); }

  /// Adds a subscriber and calls its init(). Returns its id. Errors: errc::subscriber_threw when init() threw (the
  /// subscriber is not added and any fd it registered is unregistered); errc::too_many_subscribers.
  [[nodiscard]] auto add_subscriber(S subscriber) -> result<subscriber_id> {
    const std::scoped_lock lock{state_->mutex};
    auto& reg = *state_->reg;
    auto id = reg.acquire_slot();
    if (!id) {
      return id;
    }
    const auto slot = id->slot();
    if (slot == state_->subscribers.size()) {
      state_->subscribers.emplace_back();
      state_->flags.emplace_back();
    }
    state_->subscribers[slot].emplace(std::move(subscriber));
    state_->flags[slot] = {};
    event_ops ops{reg, slot};
    try {
      target(*state_->subscribers[slot]).init(ops);
    } catch (...) {
      reg.release_slot(slot);
      state_->subscribers[slot].reset();
      reg.recycle_slot(slot);
      return vmm::failure(errc::subscriber_threw);
    }
    return id;
  }

  /// Unregisters the subscriber's fds at once and destroys it — right away, or, when it is the subscriber whose
  /// process() is running, as soon as that returns. Errors: errc::unknown_subscriber.
  [[nodiscard]] auto remove_subscriber(subscriber_id id) -> result<void> {
    const std::scoped_lock lock{state_->mutex};
    auto& reg = *state_->reg;
    if (!reg.is_live(id)) {
      return vmm::failure(errc::unknown_subscriber);
    }
    reg.release_slot(id.slot());
    if (state_->flags[id.slot()].busy) {
      state_->flags[id.slot()].doomed = true;  // destroyed by dispatch() once process() returns
    } else {
      destroy(id.slot());
    }
    return {};
  }

  /// Unregisters the subscriber's fds and hands the subscriber back. Errors: errc::unknown_subscriber;
  /// errc::subscriber_busy when called for the subscriber whose process() is running (use remove_subscriber()).
  [[nodiscard]] auto take_subscriber(subscriber_id id) -> result<S> {
    const std::scoped_lock lock{state_->mutex};
    auto& reg = *state_->reg;
    if (!reg.is_live(id)) {
      return vmm::failure(errc::unknown_subscriber);
    }
    if (state_->flags[id.slot()].busy) {
      return vmm::failure(errc::subscriber_busy);
    }
    reg.release_slot(id.slot());
    S taken = std::move(*state_->subscribers[id.slot()]);
    destroy(id.slot());
    return taken;
  }

  /// Runs `function(subscriber)` under the manager's lock and returns its result. Safe from any thread.
  /// Errors: errc::unknown_subscriber.
  template <class F>
  [[nodiscard]] auto with_subscriber(subscriber_id id, F&& function) -> result<std::invoke_result_t<F, S&>> {
    const std::scoped_lock lock{state_->mutex};
    if (!state_->reg->is_live(id)) {
      return vmm::failure(errc::unknown_subscriber);
    }
    if constexpr (std::is_void_v<std::invoke_result_t<F, S&>>) {
      std::invoke(std::forward<F>(function), *state_->subscribers[id.slot()]);
      return {};
    } else {
      return std::invoke(std::forward<F>(function), *state_->subscribers[id.slot()]);
    }
  }

  /// The subscriber itself. Only for the loop thread, or while no thread runs the manager: the reference is not
  /// protected against a concurrent removal. Errors: errc::unknown_subscriber.
  [[nodiscard]] auto subscriber(subscriber_id id) -> result<std::reference_wrapper<S>> {
    const std::scoped_lock lock{state_->mutex};
    if (!state_->reg->is_live(id)) {
      return vmm::failure(errc::unknown_subscriber);
    }
    return std::ref(*state_->subscribers[id.slot()]);
  }

  /// Waits until at least one fd is ready and dispatches every ready fd (up to the capacity) to its subscriber.
  /// Returns how many events reached a subscriber. A subscriber that throws is reported to the error handler (see
  /// set_error_handler) and dispatch goes on with the next event; the manager stays consistent.
  /// Errors: EINTR when a signal (a kick) interrupts the wait; errc::already_running when another thread is in
  /// run(), or when called from inside a subscriber.
  [[nodiscard]] auto run() -> result<std::size_t> { return dispatch(std::nullopt); }

  /// As run(), but returns 0 when nothing is ready within `timeout` (0 polls without blocking).
  /// Errors: as run(), plus vmm::sys::errc::invalid_duration for a negative timeout.
  [[nodiscard]] auto run_with_timeout(std::chrono::milliseconds timeout) -> result<std::size_t> {
    return dispatch(timeout);
  }

  /// A handle for other threads to run closures on the loop thread. It stays valid (and fails cleanly with
  /// errc::manager_gone) after the manager is destroyed.
  [[nodiscard]] auto remote_endpoint() const -> vmm::event_manager::remote_endpoint<S> {
    return vmm::event_manager::remote_endpoint<S>{state_->channel};
  }

  /// Installs the handler for exceptions thrown by process() (called on the loop thread). Without one, the manager
  /// keeps the last error (last_subscriber_error()) and counts them all (subscriber_errors()).
  void set_error_handler(subscriber_error_handler handler) {
    const std::scoped_lock lock{state_->mutex};
    state_->on_error = std::move(handler);
  }

  /// The most recent exception thrown by a subscriber's process(), if any.
  [[nodiscard]] auto last_subscriber_error() const -> std::optional<subscriber_error> {
    const std::scoped_lock lock{state_->mutex};
    return state_->last_error;
  }
  /// How many exceptions subscribers have thrown from process().
  [[nodiscard]] auto subscriber_errors() const -> std::uint64_t {
    const std::scoped_lock lock{state_->mutex};
    return state_->error_count;
  }
  /// How many reports were dropped because their registration had been removed after epoll returned them.
  [[nodiscard]] auto dropped_events() const -> std::uint64_t {
    const std::scoped_lock lock{state_->mutex};
    return state_->dropped;
  }
  /// How many subscribers are live.
  [[nodiscard]] auto subscriber_count() const -> std::size_t {
    const std::scoped_lock lock{state_->mutex};
    return state_->reg->subscriber_count();
  }
  /// How many fds are watched for subscribers.
  [[nodiscard]] auto registration_count() const -> std::size_t {
    const std::scoped_lock lock{state_->mutex};
    return state_->reg->registration_count();
  }

 private:
  struct slot_flags {
    bool busy = false;    // process() is running for this slot
    bool doomed = false;  // removed while busy: destroy when process() returns
  };
  struct state_type {
    std::optional<registry> reg;
    mutable std::recursive_mutex mutex;
    std::deque<std::optional<S>> subscribers;  // by slot; a deque keeps references stable while it grows
    std::vector<slot_flags> flags;
    std::vector<sys::ready_event> ready;
    std::shared_ptr<detail::remote_channel<S>> channel;
    subscriber_error_handler on_error;
    std::optional<subscriber_error> last_error;
    std::uint64_t error_count = 0;
    std::uint64_t dropped = 0;
  };

  explicit event_manager(std::unique_ptr<state_type> state) noexcept : state_{std::move(state)} { adopt(); }

  // Points the remote channel at this object (after construction or a move).
  void adopt() noexcept {
    if (state_) {
      const std::scoped_lock lock{state_->channel->mutex};
      state_->channel->manager = this;
    }
  }

  void close() noexcept {
    if (!state_) {
      return;
    }
    std::deque<std::unique_ptr<detail::remote_task<S>>> orphans;
    {
      const std::scoped_lock lock{state_->channel->mutex};
      state_->channel->manager = nullptr;
      orphans.swap(state_->channel->tasks);
    }
    orphans.clear();  // each blocked caller now gets errc::manager_gone
    state_.reset();
  }

  static auto target(S& handle) -> decltype(auto) {
    // Qualified: a member function of this class is also named `subscriber`.
    if constexpr (vmm::event_manager::subscriber<S>) {
      return (handle);
    } else {
      return (*handle);
    }
  }

  void destroy(std::uint32_t slot) {
    state_->subscribers[slot].reset();
    state_->flags[slot] = {};
    state_->reg->recycle_slot(slot);
  }

  void report(std::uint32_t slot, std::exception_ptr exception) noexcept {
    ++state_->error_count;
    state_->last_error = subscriber_error{state_->reg->id_of(slot), std::move(exception)};
    if (state_->on_error) {
      try {
        state_->on_error(*state_->last_error);
      } catch (...) {  // NOLINT(bugprone-empty-catch): a throwing error handler must not break the loop
      }
    }
  }

  void run_remote_tasks() {
    auto& channel = *state_->channel;
    static_cast<void>(channel.wake.read());  // drain; EAGAIN when a previous batch already took the tasks
    while (true) {
      std::unique_ptr<detail::remote_task<S>> task;
      {
        const std::scoped_lock lock{channel.mutex};
        if (channel.tasks.empty()) {
          return;
        }
        task = std::move(channel.tasks.front());
        channel.tasks.pop_front();
      }
      task->run(*this);
    }
  }

  auto dispatch(std::optional<std::chrono::milliseconds> timeout) -> result<std::size_t> {
    auto& channel = *state_->channel;
    std::thread::id idle{};
    if (!channel.dispatcher.compare_exchange_strong(idle, std::this_thread::get_id())) {
      return vmm::failure(errc::already_running);
    }
    struct dispatcher_reset {
      std::atomic<std::thread::id>& dispatcher;
      explicit dispatcher_reset(std::atomic<std::thread::id>& d) noexcept : dispatcher{d} {}
      dispatcher_reset(const dispatcher_reset&) = delete;
      auto operator=(const dispatcher_reset&) -> dispatcher_reset& = delete;
      dispatcher_reset(dispatcher_reset&&) = delete;
      auto operator=(dispatcher_reset&&) -> dispatcher_reset& = delete;
      ~dispatcher_reset() { dispatcher.store(std::thread::id{}); }
    } const reset{channel.dispatcher};
    auto& reg = *state_->reg;
    const auto ready = timeout ? reg.epoll().wait(state_->ready, *timeout) : reg.epoll().wait(state_->ready);
    if (!ready) {
      return std::unexpected(ready.error());
    }
    std::size_t dispatched = 0;
    {
      const std::scoped_lock lock{state_->mutex};
      for (const auto& event : std::span{state_->ready}.first(*ready)) {
        const auto token = event.data();
        if (token == registry::internal_token) [[unlikely]] {
          run_remote_tasks();
          continue;
        }
        const auto found = reg.resolve(token);
        if (!found) [[unlikely]] {
          ++state_->dropped;
          continue;
        }
        const auto slot = found->slot;
        state_->flags[slot].busy = true;
        event_ops ops{reg, slot};
        try {
          target(*state_->subscribers[slot]).process(events{found->fd, event.events(), found->data}, ops);
          ++dispatched;
        } catch (...) {
          report(slot, std::current_exception());
        }
        state_->flags[slot].busy = false;
        if (state_->flags[slot].doomed) [[unlikely]] {
          destroy(slot);
        }
      }
    }
    return dispatched;
  }

  std::unique_ptr<state_type> state_;
};

/// Runs closures on an event manager's loop thread, from any thread. Copyable; safe to use after the manager is
/// gone (calls then fail with errc::manager_gone). Closures run between batches, inside run().
template <class S>
class remote_endpoint {
 public:
  /// Runs `function(manager)` on the loop thread and waits for its result. Called from the loop thread itself
  /// (inside a subscriber), it runs at once instead of deadlocking. Blocks until some thread calls run().
  /// Errors: errc::manager_gone when the manager is destroyed first; errc::remote_call_threw when `function`
  /// throws; EAGAIN/EINTR when the wake-up cannot be signalled.
  template <class F>
  [[nodiscard]] auto call_blocking(F function) const -> result<std::invoke_result_t<F&, event_manager<S>&>> {
    using value_type = std::invoke_result_t<F&, event_manager<S>&>;
    auto task = std::make_unique<detail::blocking_task<S, F>>(std::move(function));
    if (channel_->dispatcher.load() == std::this_thread::get_id()) {
      event_manager<S>* manager = nullptr;
      {
        const std::scoped_lock lock{channel_->mutex};
        manager = channel_->manager;
      }
      if (manager == nullptr) {
        return vmm::failure(errc::manager_gone);
      }
      auto future = task->future();
      task->run(*manager);
      return future.get();
    }
    auto future = task->future();
    if (auto queued = enqueue(std::move(task)); !queued) {
      return std::unexpected(queued.error());
    }
    result<value_type> outcome = future.get();
    return outcome;
  }

  /// Queues `function(manager)` for the loop thread and returns at once. An exception it throws is swallowed.
  /// Errors: errc::manager_gone.
  template <class F>
  [[nodiscard]] auto fire(F function) const -> result<void> {
    return enqueue(std::make_unique<detail::fire_task<S, F>>(std::move(function)));
  }

  /// Wakes the loop thread: a run() blocked in epoll returns (having run any queued closures).
  /// Errors: errc::manager_gone; EAGAIN when the wake-up counter is full.
  [[nodiscard]] auto kick() const -> result<void> {
    {
      const std::scoped_lock lock{channel_->mutex};
      if (channel_->manager == nullptr) {
        return vmm::failure(errc::manager_gone);
      }
    }
    return channel_->wake.write(1);
  }

 private:
  friend class event_manager<S>;
  explicit remote_endpoint(std::shared_ptr<detail::remote_channel<S>> channel) noexcept
      : channel_{std::move(channel)} {}

  auto enqueue(std::unique_ptr<detail::remote_task<S>> task) const -> result<void> {
    {
      const std::scoped_lock lock{channel_->mutex};
      if (channel_->manager == nullptr) {
        return vmm::failure(errc::manager_gone);  // `task` is destroyed: a blocking caller sees manager_gone
      }
      channel_->tasks.push_back(std::move(task));
    }
    return channel_->wake.write(1);
  }

  std::shared_ptr<detail::remote_channel<S>> channel_;
};

}  // namespace vmm::event_manager
