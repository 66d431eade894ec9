using Switchboard.Channels;

namespace Switchboard.Core.Tests;

public class OptionsValidationTests
{
    private static IEnumerable<string> Failures(Action<SwitchboardOptions> configure)
    {
        var result = new SwitchboardOptionsValidator().Validate(null, TestOptions.Create(configure).Value);
        return result.Failures ?? [];
    }

    [Fact]
    public void The_test_configuration_is_valid()
        => Assert.Empty(Failures(_ => { }));

    [Fact]
    public void A_bad_namespace_name_is_named_in_the_error()
        => Assert.Contains(Failures(o => o.Namespaces["a b"] = new ChannelOptions()), f => f.StartsWith("Switchboard:Namespaces:a b:", StringComparison.Ordinal));

    [Fact]
    public void History_size_without_ttl_is_refused_with_its_key()
        => Assert.Contains(Failures(o => o.Namespaces["x1"] = new ChannelOptions { HistorySize = 5 }), f => f.StartsWith("Switchboard:Namespaces:x1:HistoryTtl", StringComparison.Ordinal));

    [Fact]
    public void Recovery_without_history_is_refused_with_its_key()
        => Assert.Contains(Failures(o => o.Channel.ForceRecovery = true), f => f.StartsWith("Switchboard:Channel:ForceRecovery", StringComparison.Ordinal));

    [Fact]
    public void A_short_hmac_secret_is_refused()
        => Assert.Contains(Failures(o => o.Token.HmacSecretKey = "short"), f => f.StartsWith("Switchboard:Token:HmacSecretKey", StringComparison.Ordinal));

    [Fact]
    public void A_pong_timeout_longer_than_the_ping_interval_is_refused()
        => Assert.Contains(Failures(o => o.Client.PongTimeout = TimeSpan.FromMinutes(5)), f => f.StartsWith("Switchboard:Client:PongTimeout", StringComparison.Ordinal));

    [Fact]
    public void An_invalid_channel_regex_is_refused()
        => Assert.Contains(Failures(o => o.Namespaces["re"] = new ChannelOptions { ChannelRegex = "([" }), f => f.StartsWith("Switchboard:Namespaces:re:ChannelRegex", StringComparison.Ordinal));
}
