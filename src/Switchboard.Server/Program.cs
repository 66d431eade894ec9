using Switchboard.Server.Hosting;

return await SwitchboardApp.RunAsync(args);
