//! What the firmware images share: their output over semihosting, the exit with a status
//! QEMU passes on (failure on any panic or fault), the deterministic inputs, and the
//! measurement of each operation (peak stack by painting, instructions by SysTick under
//! `qemu -icount shift=0`). The operations themselves are in `src/main.rs`; the
//! in-memory XCRYPT session is [`exchange`].
#![no_std]

pub mod exchange;
pub mod inputs;
pub mod measure;
pub mod out;

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};

/// The start every image makes: the SysTick meter, calibrated, and the inputs from the
/// seed, which is printed first so that the host can recompute the run.
pub fn start() -> (measure::Meter, inputs::Inputs) {
    let peripherals = cortex_m::Peripherals::take().expect("first and only take");
    let meter = measure::Meter::new(peripherals.SYST);
    let seed = inputs::seed();
    out::Line::new("seed").hex(&seed.to_be_bytes()).print();
    (meter, inputs::Inputs::new(seed))
}

/// Ends the run: QEMU exits with status 0.
pub fn exit_success() -> ! {
    debug::exit(EXIT_SUCCESS);
    // Only reached without a debugger or QEMU to stop us.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Ends the run as failed: QEMU exits with status 1.
pub fn exit_failure() -> ! {
    debug::exit(EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Any panic (a failed check included) is a failed run: the message, then status 1.
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    out::panic_message(info);
    exit_failure()
}

/// A fault (bad address, stack overflow into the data) is a failed run too, rather than
/// the default handler's endless loop that would hang QEMU.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    out::fault_message(frame.pc());
    exit_failure()
}
