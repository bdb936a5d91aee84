import TrubiZoneCLI

// trubizoned is `trubizone serve` under its daemon name.
ServeCommand.main()
