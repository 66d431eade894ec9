using Microsoft.Extensions.Options;
using Switchboard.Channels;

namespace Switchboard.Core.Tests;

internal static class TestOptions
{
    public const string Secret = "unit-test-secret-0123456789-abcdefghij";

    public static IOptions<SwitchboardOptions> Create(Action<SwitchboardOptions>? configure = null)
    {
        var options = new SwitchboardOptions();
        options.Token.HmacSecretKey = Secret;
        options.Namespaces["chat"] = new ChannelOptions
        {
            HistorySize = 10,
            HistoryTtl = TimeSpan.FromMinutes(1),
            ForceRecovery = true,
            AllowSubscribeForClient = true,
            AllowPublishForSubscriber = true,
            AllowHistoryForSubscriber = true,
            AllowPresenceForClient = true,
            Presence = true,
        };
        options.Namespaces["dm"] = new ChannelOptions { AllowUserLimitedChannels = true };
        options.Namespaces["ids"] = new ChannelOptions { ChannelRegex = "^[0-9]+$", AllowSubscribeForClient = true };
        options.Namespaces["open"] = new ChannelOptions
        {
            AllowSubscribeForClient = true,
            AllowSubscribeForAnonymous = true,
            AllowPublishForClient = true,
            AllowPublishForAnonymous = true,
        };
        configure?.Invoke(options);
        return Options.Create(options);
    }
}
