#include "storage/memtable_rep.h"

#include <atomic>
#include <cstdint>
#include <new>

#include <glog/logging.h>
#include <rocksdb/slice.h>

#include "storage/rocksdb_internals.h"

#if HALFMQ_ROCKSDB_INTERNALS_CHECKED
namespace rocksdb {

// RocksDB passes the arena of a read to GetIterator, and MemTableIterator
// then only destroys the iterator: it must live in that arena. The Arena
// class is internal to RocksDB, but its AllocateAligned is an exported
// function of librocksdb; this declares just that member so the call binds
// to it (a direct call, as `arena->Arena::AllocateAligned(...)` would be).
// Every Arena* RocksDB passes points to a rocksdb::Arena itself (no class
// derives from it).
class Arena {
 public:
  char* AllocateAligned(size_t bytes, size_t huge_page_size, Logger* logger);
};

}  // namespace rocksdb

namespace halfmq::storage {
namespace {

// MemTableRep::Get's default implementation never deletes the iterator it
// creates (every built-in memtable overrides it), so ours must override it
// too, and for that read the key out of a LookupKey, another internal class:
// its first member (db/dbformat.h, unchanged since LevelDB) points to the
// memtable key, the length-prefixed internal key. Checked for the RocksDB
// release of rocksdb_internals.h only; every Get in memtable_rep_test.cc and
// the broker's tests reads through it.
const char* MemtableKeyOf(const rocksdb::LookupKey& k) {
  return *reinterpret_cast<const char* const*>(&k);
}

using Link = std::atomic<void*>;

constexpr int kMaxHeight = 12;
constexpr uint32_t kBranching = 4;

// A node: its links for levels height-1..1, then the level-0 link (the Node
// object itself), then the key (length-prefixed internal key, written by
// RocksDB into the buffer Allocate returns). Level i's link is i words before
// the node. Until the node is inserted its level-0 link holds its height.
struct Node {
  Link* LinkAt(int level) { return reinterpret_cast<Link*>(this) - level; }

  Node* Next(int level) {
    return static_cast<Node*>(LinkAt(level)->load(std::memory_order_acquire));
  }
  void SetNext(int level, Node* x) { LinkAt(level)->store(x, std::memory_order_release); }
  void SetNextRelaxed(int level, Node* x) { LinkAt(level)->store(x, std::memory_order_relaxed); }

  const char* Key() const { return reinterpret_cast<const char*>(this) + sizeof(Link); }

  void StashHeight(int height) {
    LinkAt(0)->store(reinterpret_cast<void*>(static_cast<intptr_t>(height)),
                     std::memory_order_relaxed);
  }
  int StashedHeight() {
    return static_cast<int>(
        reinterpret_cast<intptr_t>(LinkAt(0)->load(std::memory_order_relaxed)));
  }
};

// Where a key goes at every level: prev[i] < key <= next[i] (next[i] null at
// the end), with prev[height] the head and next[height] null. Kept between
// inserts of one stream: still a valid bracket for a nearby key, and only
// levels that no longer bracket it are searched again.
struct Splice {
  int height = 0;
  Node* prev[kMaxHeight + 1];
  Node* next[kMaxHeight + 1];
};

class SkipListRep : public rocksdb::MemTableRep {
 public:
  SkipListRep(const KeyComparator& compare, rocksdb::Allocator* allocator)
      : MemTableRep(allocator), compare_(compare) {
    head_ = NewNode(kMaxHeight, 0);
    for (int i = 0; i < kMaxHeight; ++i) head_->SetNextRelaxed(i, nullptr);
    seq_splice_ = NewSplice();
  }

  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    Node* x = NewNode(RandomHeight(), len);
    *buf = const_cast<char*>(x->Key());
    return x;
  }

  void Insert(rocksdb::KeyHandle handle) override { InsertKey(handle); }
  bool InsertKey(rocksdb::KeyHandle handle) override {
    return InsertNode(static_cast<Node*>(handle), seq_splice_);
  }
  void InsertWithHint(rocksdb::KeyHandle handle, void** hint) override {
    InsertKeyWithHint(handle, hint);
  }
  bool InsertKeyWithHint(rocksdb::KeyHandle handle, void** hint) override {
    if (*hint == nullptr) *hint = NewSplice();
    return InsertNode(static_cast<Node*>(handle), static_cast<Splice*>(*hint));
  }
  void InsertConcurrently(rocksdb::KeyHandle) override {
    LOG(FATAL) << "concurrent memtable inserts are not supported";
  }

  bool Contains(const char* key) const override {
    rocksdb::Slice target = compare_.decode_key(key);
    Node* x = FindGreaterOrEqual(target);
    return x != nullptr && compare_(x->Key(), target) == 0;
  }

  void Get(const rocksdb::LookupKey& k, void* callback_args,
           bool (*callback_func)(void* arg, const char* entry)) override {
    Iterator iter(this);
    for (iter.Seek(rocksdb::Slice(), MemtableKeyOf(k));
         iter.Valid() && callback_func(callback_args, iter.key()); iter.Next()) {
    }
  }

  // Memory comes from the memtable's allocator, which counts it.
  size_t ApproximateMemoryUsage() override { return 0; }

  class Iterator : public rocksdb::MemTableRep::Iterator {
   public:
    explicit Iterator(const SkipListRep* list) : list_(list) {}

    bool Valid() const override { return node_ != nullptr; }
    const char* key() const override { return node_->Key(); }
    void Next() override { node_ = node_->Next(0); }
    void Prev() override {
      node_ = list_->FindLessThan(list_->compare_.decode_key(node_->Key()));
    }
    void Seek(const rocksdb::Slice& internal_key, const char* memtable_key) override {
      node_ = list_->FindGreaterOrEqual(memtable_key != nullptr
                                            ? list_->compare_.decode_key(memtable_key)
                                            : internal_key);
    }
    void SeekForPrev(const rocksdb::Slice& internal_key, const char* memtable_key) override {
      rocksdb::Slice target = memtable_key != nullptr ? list_->compare_.decode_key(memtable_key)
                                                      : internal_key;
      // The last node <= target: the first >= target if equal, else the one
      // before it.
      Node* next;
      Node* before = list_->FindBefore(target, &next);
      if (next != nullptr && list_->compare_(next->Key(), target) == 0) {
        node_ = next;
      } else {
        node_ = before == list_->head_ ? nullptr : before;
      }
    }
    void SeekToFirst() override { node_ = list_->head_->Next(0); }
    void SeekToLast() override { node_ = list_->FindLast(); }

   private:
    const SkipListRep* list_;
    Node* node_ = nullptr;  // never the head
  };

  rocksdb::MemTableRep::Iterator* GetIterator(rocksdb::Arena* arena) override {
    if (arena == nullptr) return new Iterator(this);
    void* mem = arena->AllocateAligned(sizeof(Iterator), 0, nullptr);
    return new (mem) Iterator(this);
  }

 private:
  // Memory from the memtable's allocator, aligned for the links (RocksDB's
  // MemTableRep::Allocate gives unaligned bytes).
  char* AllocateBytes(size_t bytes) {
    char* raw = nullptr;
    MemTableRep::Allocate(bytes + alignof(Link) - 1, &raw);
    auto p = reinterpret_cast<uintptr_t>(raw);
    return reinterpret_cast<char*>((p + alignof(Link) - 1) & ~(uintptr_t{alignof(Link)} - 1));
  }

  Node* NewNode(int height, size_t key_len) {
    char* mem = AllocateBytes(sizeof(Link) * height + key_len);
    for (int i = 0; i < height; ++i) new (mem + sizeof(Link) * i) Link(nullptr);
    Node* x = reinterpret_cast<Node*>(mem + sizeof(Link) * (height - 1));
    x->StashHeight(height);
    return x;
  }

  Splice* NewSplice() { return new (AllocateBytes(sizeof(Splice))) Splice(); }

  int RandomHeight() {
    int height = 1;
    while (height < kMaxHeight && NextRandom() % kBranching == 0) ++height;
    return height;
  }

  uint32_t NextRandom() {  // xorshift32; only the inserting thread calls it
    rnd_ ^= rnd_ << 13;
    rnd_ ^= rnd_ >> 17;
    rnd_ ^= rnd_ << 5;
    return rnd_;
  }

  // Whether key goes after node x (x is not the head).
  bool KeyIsAfter(const rocksdb::Slice& key, Node* x) const { return compare_(x->Key(), key) < 0; }

  // At `level`, from `before` (< key) up to `after` (> key, or null), the
  // last node < key and the one after it. Sets *equal when that next node's
  // key equals key.
  void FindForLevel(const rocksdb::Slice& key, Node* before, Node* after, int level,
                    Node** out_prev, Node** out_next, bool* equal) const {
    Node* next = before->Next(level);
    while (next != after) {
      int c = compare_(next->Key(), key);
      if (c >= 0) {
        if (c == 0) *equal = true;
        break;
      }
      before = next;
      next = before->Next(level);
    }
    *out_prev = before;
    *out_next = next;
  }

  // Links x in using `splice`, then leaves the splice bracketing x's
  // successor. False (and x not linked) when an equal key is present: the
  // same user key and sequence number, which RocksDB turns into TryAgain.
  bool InsertNode(Node* x, Splice* splice) {
    const rocksdb::Slice key = compare_.decode_key(x->Key());
    const int height = x->StashedHeight();
    int max_height = max_height_.load(std::memory_order_relaxed);
    if (height > max_height) {
      // Readers that see the new height before the head's new links find
      // null there, which only means the end of that level.
      max_height = height;
      max_height_.store(max_height, std::memory_order_relaxed);
    }

    // Levels below `recompute` are searched again, from the splice's bracket
    // at level `recompute` (valid and tight, or the head and null).
    int recompute = 0;
    bool equal = false;
    if (splice->height < max_height) {
      splice->prev[max_height] = head_;
      splice->next[max_height] = nullptr;
      splice->height = max_height;
      recompute = max_height;
    } else {
      while (recompute < max_height) {
        Node* prev = splice->prev[recompute];
        Node* next = splice->next[recompute];
        if (prev->Next(recompute) != next) {
          // Not tight any more: other inserts went in between.
          ++recompute;
        } else if (prev != head_ && !KeyIsAfter(key, prev)) {
          // The key is at or before this bracket, and so at every level that
          // shares its left end.
          while (recompute < max_height && splice->prev[recompute] == prev) ++recompute;
        } else {
          int c = next == nullptr ? 1 : compare_(next->Key(), key);
          if (c >= 0) {
            // Brackets the key: levels from here up are good.
            equal = recompute == 0 && c == 0;
            break;
          }
          // The key is after this bracket, and after every level that
          // shares its right end.
          while (recompute < max_height && splice->next[recompute] == next) ++recompute;
        }
      }
    }
    for (int i = recompute - 1; i >= 0; --i) {
      bool eq = false;
      FindForLevel(key, splice->prev[i + 1], splice->next[i + 1], i, &splice->prev[i],
                   &splice->next[i], &eq);
      if (i == 0) equal = eq;
    }
    // Levels at and above `recompute` bracket the key (their left ends are at
    // or before the validated one, their right ends at or after), but other
    // streams' inserts may have gone in between: walk from the left end.
    for (int i = recompute; i < height; ++i) {
      if (splice->prev[i]->Next(i) != splice->next[i]) {
        bool eq = false;
        FindForLevel(key, splice->prev[i], nullptr, i, &splice->prev[i], &splice->next[i], &eq);
        if (i == 0) equal = eq;
      }
    }
    if (equal) return false;

    // Links are set before the node is published at each level, bottom up,
    // so a reader that reaches x at any level finds its links there set.
    for (int i = 0; i < height; ++i) {
      x->SetNextRelaxed(i, splice->next[i]);
      splice->prev[i]->SetNext(i, x);
    }
    for (int i = 0; i < height; ++i) splice->prev[i] = x;
    return true;
  }

  // The last node < key (the head if none) and, in *next, the first node
  // >= key (null if none).
  Node* FindBefore(const rocksdb::Slice& key, Node** next_out) const {
    Node* x = head_;
    Node* last_bigger = nullptr;  // a node known >= key: no need to compare it again
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->Next(level);
      if (next != nullptr && next != last_bigger && KeyIsAfter(key, next)) {
        x = next;
      } else if (level == 0) {
        *next_out = next;
        return x;
      } else {
        last_bigger = next;
        --level;
      }
    }
  }

  // The first node >= key, or null.
  Node* FindGreaterOrEqual(const rocksdb::Slice& key) const {
    Node* next;
    FindBefore(key, &next);
    return next;
  }

  // The last node < key, or null.
  Node* FindLessThan(const rocksdb::Slice& key) const {
    Node* next;
    Node* x = FindBefore(key, &next);
    return x == head_ ? nullptr : x;
  }

  Node* FindLast() const {
    Node* x = head_;
    int level = max_height_.load(std::memory_order_relaxed) - 1;
    while (true) {
      Node* next = x->Next(level);
      if (next != nullptr) {
        x = next;
      } else {
        if (level == 0) return x == head_ ? nullptr : x;
        --level;
      }
    }
  }

  const KeyComparator& compare_;
  Node* head_;
  std::atomic<int> max_height_{1};
  Splice* seq_splice_;  // for inserts without a hint
  uint32_t rnd_ = 0x9e3779b9u;
};

class OrderedMemTableFactory : public rocksdb::MemTableRepFactory {
 public:
  const char* Name() const override { return "HalfmqSkipList"; }

  using rocksdb::MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep* CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator& compare,
                                          rocksdb::Allocator* allocator,
                                          const rocksdb::SliceTransform* /*transform*/,
                                          rocksdb::Logger* /*logger*/) override {
    return new SkipListRep(compare, allocator);
  }

  bool IsInsertConcurrentlySupported() const override { return false; }
  bool CanHandleDuplicatedKey() const override { return true; }
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewOrderedMemTableFactory() {
  return std::make_shared<OrderedMemTableFactory>();
}

}  // namespace halfmq::storage

#else  // !HALFMQ_ROCKSDB_INTERNALS_CHECKED

namespace halfmq::storage {

std::shared_ptr<rocksdb::MemTableRepFactory> NewOrderedMemTableFactory() { return nullptr; }

}  // namespace halfmq::storage

#endif  // HALFMQ_ROCKSDB_INTERNALS_CHECKED
