//! An intrusive doubly linked list whose nodes live in one arena.
//!
//! Links are `u32` indices into a `Vec` of slots, not pointers, so the list
//! is safe code, one allocation, and half the link size of a pointer list.
//! Slot 0 is a sentinel that closes the list into a ring:
//!
//! ```text
//!   SENTINEL.next -> [front] <-> [ ] <-> ... <-> [back] <- SENTINEL.prev
//!   (LRU end)                                        (MRU end)
//! ```
//!
//! Freed slots are chained through their `next` link into a free list and
//! reused before the arena grows. Growth is clamped to a caller-given limit
//! so a full cache holds exactly `limit + 1` slots, not the next power of two.
//!
//! The concurrent cache's shards keep their regions (window, probation,
//! protected; or one LRU list) in one arena, one sentinel per list, and
//! hand slot indices to the timer wheel, so indices must stay put: hence
//! the free list. The one-thread `LruCache` needs neither several lists
//! nor stable indices and uses a denser sentinel-free ring
//! (`src/lru/cache.rs`).
//!
//! Invariants (checked by [`Arena::check`] in tests and fuzz targets):
//! 1. the sentinel holds no value; following `next` from it visits exactly
//!    `len` occupied slots and returns to it, and `prev` mirrors `next`;
//! 2. every other slot is either on the list (occupied) or on the free list
//!    (empty), never both.

/// Index of the sentinel slot of list 0; also "none" for the free list.
/// An arena of `n` lists keeps slots `0..n` as their sentinels.
const SENTINEL: u32 = 0;

#[derive(Clone, Debug)]
struct Slot<T> {
    value: Option<T>,
    prev: u32,
    next: u32,
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub(crate) struct Arena<T> {
    slots: Vec<Slot<T>>,
    /// Head of the free list, chained through `next`; `SENTINEL` when empty.
    free: u32,
    len: u32,
    /// Number of lists (and of sentinel slots at the front of `slots`).
    lists: u32,
}

impl<T> Arena<T> {
    /// The most slots an arena can hold: indices are `u32` and slot 0 is the
    /// sentinel.
    pub(crate) const MAX_LEN: usize = u32::MAX as usize - 1;

    /// An arena whose nodes live on one of `lists` separate lists (at
    /// least 1), each closed by its own sentinel slot `0..lists`. Segmented
    /// policies keep their regions (window, probation, protected) in one
    /// arena this way, so a node moves between regions by relinking.
    pub(crate) fn with_lists(lists: u32) -> Self {
        let lists = lists.max(1);
        Arena {
            slots: (0..lists)
                .map(|l| Slot {
                    value: None,
                    prev: l,
                    next: l,
                })
                .collect(),
            free: SENTINEL,
            len: 0,
            lists,
        }
    }

    /// The least recently linked node of list `list`.
    #[inline]
    pub(crate) fn front_of(&self, list: u32) -> Option<u32> {
        let i = self.slots[list as usize].next;
        (i != list).then_some(i)
    }

    /// Links `value` at the back (most recent end) of list `list`, in a slot
    /// from the free list or a new one (capacity reserved for at most
    /// `limit` entries); its index.
    pub(crate) fn push_back_to(&mut self, list: u32, value: T, limit: usize) -> u32 {
        let i = self.alloc(value, limit);
        self.link_back_of(list, i);
        self.len += 1;
        i
    }

    /// Moves occupied node `i` to the back of list `list` (which may be
    /// another list than the one it is on). Ignores free or unknown indices.
    #[inline]
    pub(crate) fn move_to_back_of(&mut self, list: u32, i: u32) {
        if i < self.lists || self.get(i).is_none() || self.slots[list as usize].prev == i {
            return;
        }
        self.unlink(i);
        self.link_back_of(list, i);
    }

    /// Moves occupied node `i` to the front of list `list` (which may be
    /// another list than the one it is on). Ignores free or unknown indices.
    pub(crate) fn move_to_front_of(&mut self, list: u32, i: u32) {
        if i < self.lists || self.get(i).is_none() || self.slots[list as usize].next == i {
            return;
        }
        self.unlink(i);
        let first = self.slots[list as usize].next;
        self.link_between(list, first, i);
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    #[inline]
    pub(crate) fn get(&self, i: u32) -> Option<&T> {
        self.slots.get(i as usize)?.value.as_ref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self, i: u32) -> Option<&mut T> {
        self.slots.get_mut(i as usize)?.value.as_mut()
    }

    /// A slot holding `value`, from the free list or by growing (never past
    /// `limit + lists` slots); not linked yet.
    fn alloc(&mut self, value: T, limit: usize) -> u32 {
        if self.free != SENTINEL {
            let i = self.free;
            let slot = &mut self.slots[i as usize];
            self.free = slot.next;
            slot.value = Some(value);
            i
        } else {
            let used = self.slots.len();
            if used == self.slots.capacity() {
                // Double, but never past `limit + lists` slots (sentinels
                // included).
                let room = (limit.min(Self::MAX_LEN) + self.lists as usize).saturating_sub(used);
                self.slots.reserve_exact(used.min(room).max(1));
            }
            self.slots.push(Slot {
                value: Some(value),
                prev: SENTINEL,
                next: SENTINEL,
            });
            used as u32
        }
    }

    /// Unlinks node `i`, puts its slot on the free list and returns its value.
    pub(crate) fn remove(&mut self, i: u32) -> Option<T> {
        if i < self.lists {
            return None;
        }
        let value = self.slots.get_mut(i as usize)?.value.take()?;
        self.unlink(i);
        self.slots[i as usize].next = self.free;
        self.free = i;
        self.len -= 1;
        Some(value)
    }

    /// Heap bytes held by the slots.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot<T>>()
    }

    /// Every occupied slot's index and value, in slot order (not list order).
    pub(crate) fn occupied(&self) -> impl Iterator<Item = (u32, &T)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .skip(self.lists as usize)
            .filter_map(|(i, s)| s.value.as_ref().map(|v| (i as u32, v)))
    }

    /// Number of slots, sentinels included (an upper bound on indices).
    #[inline]
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    fn unlink(&mut self, i: u32) {
        let Slot { prev, next, .. } = self.slots[i as usize];
        self.slots[prev as usize].next = next;
        self.slots[next as usize].prev = prev;
    }

    #[inline]
    fn link_back_of(&mut self, list: u32, i: u32) {
        let last = self.slots[list as usize].prev;
        self.link_between(last, list, i);
    }

    /// Links node `i` between the adjacent slots `prev` and `next`.
    #[inline]
    fn link_between(&mut self, prev: u32, next: u32, i: u32) {
        let slot = &mut self.slots[i as usize];
        slot.prev = prev;
        slot.next = next;
        self.slots[prev as usize].next = i;
        self.slots[next as usize].prev = i;
    }

    /// Checks the invariants of the module documentation.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let mut seen = vec![false; self.slots.len()];
        let mut count = 0usize;
        for list in 0..self.lists {
            if self.slots[list as usize].value.is_some() {
                return Err(format!("sentinel {list} holds a value"));
            }
            seen[list as usize] = true;
            let mut at = self.slots[list as usize].next;
            while at != list {
                let slot = self.slots.get(at as usize).ok_or("link out of bounds")?;
                if at < self.lists || slot.value.is_none() {
                    return Err(format!("listed slot {at} is empty or a sentinel"));
                }
                if std::mem::replace(&mut seen[at as usize], true) {
                    return Err(format!("slot {at} listed twice"));
                }
                if self.slots[slot.next as usize].prev != at {
                    return Err(format!(
                        "prev of {} does not mirror next of {at}",
                        slot.next
                    ));
                }
                count += 1;
                at = slot.next;
            }
        }
        if count != self.len() {
            return Err(format!("lists hold {count} nodes, len says {}", self.len));
        }
        let mut free = 0usize;
        let mut at = self.free;
        while at != SENTINEL {
            let slot = self
                .slots
                .get(at as usize)
                .ok_or("free link out of bounds")?;
            if slot.value.is_some() || std::mem::replace(&mut seen[at as usize], true) {
                return Err(format!("free slot {at} is occupied or listed"));
            }
            free += 1;
            at = slot.next;
        }
        if count + free + self.lists as usize != self.slots.len() {
            return Err("a slot is neither listed nor free".into());
        }
        Ok(())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn link_unlink_reuse() {
        let mut a = Arena::with_lists(2);
        let order = |a: &Arena<char>, list: u32| {
            let mut out = String::new();
            let mut at = a.front_of(list);
            while let Some(i) = at {
                out.push(*a.get(i).unwrap());
                let next = a.slots[i as usize].next;
                at = (next != list).then_some(next);
            }
            out
        };
        let x = a.push_back_to(0, 'x', 3);
        let y = a.push_back_to(0, 'y', 3);
        let z = a.push_back_to(1, 'z', 3);
        assert_eq!(a.front_of(0), Some(x));
        a.move_to_back_of(0, x);
        assert_eq!(order(&a, 0), "yx");
        a.move_to_back_of(1, y);
        assert_eq!((order(&a, 0).as_str(), order(&a, 1).as_str()), ("x", "zy"));
        assert_eq!(a.remove(z), Some('z'));
        assert_eq!(a.remove(z), None);
        let w = a.push_back_to(0, 'w', 3);
        assert_eq!(w, z, "freed slot is reused");
        assert_eq!(a.slots.capacity(), 5, "growth clamps to limit + lists");
        a.check_invariants().unwrap();
        assert_eq!(order(&a, 0), "xw");
        assert_eq!(a.len(), 3);
    }
}
