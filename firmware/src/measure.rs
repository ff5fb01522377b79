//! Per-operation figures: the peak stack (the free RAM between the end of `.bss` and the
//! stack pointer is painted with a pattern before the operation, and the lowest word no
//! longer holding it afterwards is the high-water mark) and the instruction count (the
//! SysTick counter on the core clock, which under `qemu -icount shift=0` advances by one
//! nanosecond of virtual time per instruction; calibrated at start against a loop of
//! known length, so the ratio is measured rather than assumed).

use core::ptr::{addr_of, read_volatile, write_volatile};

use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;

/// What painted stack holds (any word an operation writes almost surely differs).
const PAINT: u32 = 0x5a5a_a5a5;
/// SysTick counts down over 24 bits.
const SYST_MASK: u32 = 0x00ff_ffff;
/// Iterations of the calibration loop (two instructions each).
const CALIBRATION_LOOPS: u32 = 1_000_000;

unsafe extern "C" {
    /// The first byte after `.bss` (and `.uninit`), from cortex-m-rt's `link.x`.
    static __sheap: u32;
}

/// One operation's figures.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Bytes of stack the operation used below its caller's stack pointer.
    pub stack: u32,
    /// Instructions it executed (a multiple of the calibrated instructions per tick).
    pub instructions: u64,
}

/// The SysTick counter, started, and its calibration.
pub struct Meter {
    syst: SYST,
    /// Instructions per SysTick tick, times 2^16.
    insn_per_tick_q16: u64,
    /// Ticks the calibration loop took.
    pub calibration_ticks: u32,
}

impl Meter {
    /// Starts SysTick on the core clock without its interrupt (an interrupt frame would
    /// count as the operation's stack), then calibrates.
    pub fn new(mut syst: SYST) -> Self {
        syst.disable_interrupt();
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(SYST_MASK);
        syst.clear_current();
        syst.enable_counter();
        let mut meter = Self {
            syst,
            insn_per_tick_q16: 0,
            calibration_ticks: 0,
        };
        let start = meter.now();
        spin(CALIBRATION_LOOPS);
        let ticks = meter.ticks_since(start).max(1);
        meter.calibration_ticks = ticks;
        #[allow(
            clippy::integer_division_remainder_used,
            reason = "a tick count, public; nothing secret is divided here"
        )]
        let ratio = ((u64::from(CALIBRATION_LOOPS) * 2) << 16) / u64::from(ticks);
        meter.insn_per_tick_q16 = ratio;
        meter
    }

    /// Instructions per tick as measured (times 2^16).
    pub fn insn_per_tick_q16(&self) -> u64 {
        self.insn_per_tick_q16
    }

    fn now(&self) -> u32 {
        let _ = &self.syst;
        SYST::get_current()
    }

    /// Ticks since `start`. Right while fewer than 2^24 ticks passed (about 670 million
    /// instructions at the calibrated 40 per tick; every operation here is far below).
    fn ticks_since(&self, start: u32) -> u32 {
        start.wrapping_sub(self.now()) & SYST_MASK
    }

    /// Runs `op` and returns its result with its figures.
    #[inline(never)]
    pub fn measure<T>(&self, op: impl FnOnce() -> T) -> (T, Figures) {
        paint();
        let base = cortex_m::register::msp::read();
        let start = self.now();
        let result = run(op);
        let ticks = self.ticks_since(start);
        let low = lowest_touched();
        let figures = Figures {
            stack: base.saturating_sub(low),
            instructions: (u64::from(ticks) * self.insn_per_tick_q16) >> 16,
        };
        (result, figures)
    }
}

/// The operation in a frame of its own below the one whose stack pointer was taken.
#[inline(never)]
fn run<T>(op: impl FnOnce() -> T) -> T {
    op()
}

/// `loops` iterations of a two-instruction loop.
#[inline(never)]
// Clippy runs on the host (x86_64: see README.md), where rustc reads the template as x86.
#[cfg_attr(not(target_arch = "arm"), allow(asm_sub_register))]
fn spin(loops: u32) {
    // SAFETY: a register-only countdown loop; it touches no memory and no flags that the
    // compiler relies on across the block (`cc` is clobbered by default).
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) loops => _,
            options(nomem, nostack),
        );
    }
}

/// The free RAM below the stack: from the end of the static data up to the stack pointer.
fn free_range() -> (usize, usize) {
    let bottom = addr_of!(__sheap) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    // Leave a few words under the stack pointer: this function's callee frames may
    // be there.
    (bottom, (sp - 64) & !3)
}

/// Fills the free RAM below the stack with [`PAINT`].
#[inline(never)]
fn paint() {
    let (bottom, top) = free_range();
    let mut p = bottom as *mut u32;
    while (p as usize) < top {
        // SAFETY: `p` is word-aligned and between the end of the statics (`__sheap`) and
        // below the stack pointer: memory that nothing live uses, and that this loop,
        // making no calls, does not need for itself.
        unsafe {
            write_volatile(p, PAINT);
            p = p.add(1);
        }
    }
}

/// The lowest address whose painted word was overwritten.
#[inline(never)]
fn lowest_touched() -> u32 {
    let (bottom, top) = free_range();
    let mut p = bottom as *const u32;
    while (p as usize) < top {
        // SAFETY: as in `paint`: aligned, inside RAM, between the statics and the stack.
        if unsafe { read_volatile(p) } != PAINT {
            break;
        }
        // SAFETY: still inside the same range (checked by the loop condition).
        p = unsafe { p.add(1) };
    }
    p as u32
}
