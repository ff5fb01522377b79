//! The same runtime as the firmware without ssmail: start-up, semihosting output, the
//! measurement harness, the exit. Its size subtracted from the firmware's is what the
//! ssmail crates (and the calls into them) add.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use ssmail_firmware::out::Line;

#[entry]
fn main() -> ! {
    let (meter, mut inputs) = ssmail_firmware::start();
    // One measured operation and one line of each kind of field, so that every piece of
    // the harness is linked in as it is in the firmware.
    let (bytes, f) = meter.measure(|| inputs.bytes::<16>());
    Line::new("# empty")
        .hex(&bytes)
        .num(u64::from(f.stack))
        .num(f.instructions)
        .print();
    Line::new("done").print();
    ssmail_firmware::exit_success()
}
