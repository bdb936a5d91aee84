import PHRServerCommands

PHRServerCommand.main()
