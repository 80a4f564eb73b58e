// vmm.event_manager — an epoll event loop for VMM device threads, the counterpart of rust-vmm's event-manager.
//
// What it does: subscribers register interest in fds (readable, writable, edge-triggered, with 32 bits of their
// own data) and get process() calls when those fds are ready. Dispatch is O(1) (a registration index and
// generation in epoll's data: no hash lookups, and a report for a removed registration never reaches a subscriber
// that reuses its slot). Static dispatch (a template over a subscriber concept) and dynamic dispatch
// (dynamic_subscriber) are both supported; subscribers may add or remove subscribers, themselves included, while
// events are dispatched; other threads may add and remove subscribers directly, or run closures on the loop thread
// through a remote endpoint. A subscriber that throws is reported, not fatal.
//
// What it deliberately does not do: it owns no fds (subscribers do), runs no threads of its own, does not retry
// EINTR (a kick is how a VMM stops its device threads), and has no io_uring backend yet.
export module vmm.event_manager;
export import :error;
export import :core;
export import :manager;
