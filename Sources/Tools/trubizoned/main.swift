import TrubiZoneDaemonCommand

// trubizoned: the secure world of an emulated device (also `trubizone serve`).
ServeCommand.main()
